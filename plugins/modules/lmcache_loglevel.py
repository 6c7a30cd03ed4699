#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_loglevel
short_description: Set the log levels of named loggers on an LMCache server or engine, at runtime
version_added: 0.2.0
description:
  - Declares the level of each logger named in O(levels) on the LMCache node at O(url), without a restart
    (C(GET /loglevel?logger_name=...&level=...); LMCache 0.5.0 and later servers, and the engine inside vLLM).
  - Idempotent. The module reads each logger's level first and sets only those that differ. The result's RV(before)
    is what to declare again to put the levels back, which the C(lmcache.kvcache.loglevel_incident) playbook does,
    even when a step fails.
  - Fails on a release without the route (0.4.x), saying so. Given the scheduler of a vLLM pod, sets the levels on
    every worker of the pod.
author:
  - LMCache maintainers (@LMCache)
options:
  levels:
    description:
      - 'The level of each logger, by name, for example V({lmcache: DEBUG, lmcache.v1.storage_backend: DEBUG}).'
      - A level is one of V(CRITICAL), V(ERROR), V(WARNING), V(INFO), V(DEBUG) and V(NOTSET), in any case. A logger's name
        is letters, digits, V(.), V(_), V(:) and V(-). Anything else is refused before any request.
    type: dict
    required: true
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode the levels are read, not set; C(changed) and the diff say what would change.
    support: full
  diff_mode:
    description: Shows each named logger's level before and after.
    support: full
  idempotent:
    description: A second run finds the levels as asked and reports no change.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_server_info
'''

EXAMPLES = r'''
- name: Debug LMCache's storage on the nodes of an incident
  lmcache.kvcache.lmcache_loglevel:
    levels:
      lmcache.v1.storage_backend: DEBUG
  register: lmcache_debug

- name: Put the levels back as they were
  lmcache.kvcache.lmcache_loglevel:
    levels: "{{ lmcache_debug.before }}"
'''

RETURN = r'''
url:
  description: The node's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8080
api_generation:
  description: The node's HTTP API generation (V(G2), V(G3)), or V(engine).
  returned: always
  type: str
  sample: G3
version:
  description: The node's version as it reports it.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
status:
  description: HTTP status of the last request; V(null) when it got no answer.
  returned: always
  type: int
  sample: 200
kind:
  description: V(server) or V(engine).
  returned: success
  type: str
  sample: server
msg:
  description: The levels set, or that they are as asked; on failure, the method, URL, HTTP status and the node's own text.
  returned: always
  type: str
  sample: Set lmcache INFO -> DEBUG on http://127.0.0.1:8080 (LMCache 0.5.6-g3e11e108, API G3).
before:
  description: The named loggers' levels as they were.
  returned: success
  type: dict
  sample: {lmcache: INFO}
after:
  description: The named loggers' levels after the task (in check mode, as they would be).
  returned: success
  type: dict
  sample: {lmcache: DEBUG}
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import LogLevels


def main():
    run(LogLevels)


if __name__ == '__main__':
    main()
