#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_engine
short_description: Declare the state of an LMCache engine inside vLLM - freeze, hot cache, bypassed backends, runtime configuration
version_added: 0.2.0
description:
  - Manages the LMCache engine that vLLM runs (C(LMCacheConnectorV1)) through its internal API server, which vLLM
    serves when the engine's configuration has C(internal_api_server_enabled=true) (the scheduler on
    C(internal_api_server_port_start), worker I(i) on the port after it plus I(i)). O(url) is one worker's.
  - Declarative. The module reads what is declared, changes only what differs, and reads it again.
  - O(freeze) - with freeze on, the engine stores nothing and serves from its local CPU backend only (C(PUT
    /freeze/enable), C(/freeze/disable)). The maintenance window's clear of an engine freezes it by itself for the
    clear, and puts it back after.
  - O(hot_cache) - whether the local CPU backend keeps what the engine stores (C(PUT /hot_cache/enable), C(/disable)).
  - O(bypassed_backends) - the exact set of storage backends the engine bypasses (C(PUT /bypass/add), C(/remove)).
  - O(config) - runtime configuration values (C(POST /conf)), only for the keys the engine reads on each request;
    any other key is refused before any request, naming it, since the engine reads it once, at start.
  - Fails on an C(lmcache server) node, saying so.
author:
  - LMCache maintainers (@LMCache)
options:
  freeze:
    description: Whether stores are frozen. Not changed when not set.
    type: bool
  hot_cache:
    description: Whether the local CPU backend keeps what is stored (the hot cache). Not changed when not set.
    type: bool
  bypassed_backends:
    description:
      - The storage backends the engine bypasses, exactly; the others are not. V([]) bypasses none. Each must be one of
        the engine's backends (RV(lmcache.kvcache.lmcache_server_info#module:engine.backends)). Not changed when not set.
    type: list
    elements: str
  config:
    description:
      - Configuration values to set at runtime, by key. Only the keys LMCache 0.5 engines read on each request
        are taken - V(blocking_timeout_secs), V(lookup_timeout_ms), V(min_retrieve_tokens), V(priority_limit),
        V(save_decode_cache) and V(save_unfull_chunk). Any other is refused before any request.
      - A value is compared as the engine holds it (V("512") and V(512) are the same number).
    type: dict
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode the state is read, not changed; C(changed) and the diff say what would change.
    support: full
  diff_mode:
    description: Shows the declared states before and after.
    support: full
  idempotent:
    description: A second run finds the engine as declared and reports no change.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_server_info
  - module: lmcache.kvcache.lmcache_kvcache_clear
'''

EXAMPLES = r'''
- name: Freeze stores on a vLLM worker's LMCache engine while it is examined
  lmcache.kvcache.lmcache_engine:
    url: http://127.0.0.1:8001
    freeze: true

- name: Serve from the local CPU only, bypass the remote backend, retrieve only 512 tokens or more
  lmcache.kvcache.lmcache_engine:
    url: http://127.0.0.1:8001
    bypassed_backends:
      - RemoteBackend
    config:
      min_retrieve_tokens: 512

- name: Back to normal
  lmcache.kvcache.lmcache_engine:
    url: http://127.0.0.1:8001
    freeze: false
    bypassed_backends: []
'''

RETURN = r'''
url:
  description: The engine's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8001
api_generation:
  description: V(engine) for an LMCache engine inside vLLM; a server's generation (G1, G2, G3) when O(url) is a server.
  returned: always
  type: str
  sample: engine
version:
  description: The engine's LMCache version.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
status:
  description: HTTP status of the last request; V(null) when it got no answer.
  returned: always
  type: int
  sample: 200
kind:
  description: V(engine).
  returned: success
  type: str
  sample: engine
msg:
  description: What changed, or that the engine is as declared; on failure, the method, URL, HTTP status and the engine's own text.
  returned: always
  type: str
  sample: Changed freeze on on http://127.0.0.1:8001 (LMCache engine 0.5.6-g3e11e108, inside vLLM).
before:
  description: The declared states as they were (only those declared), the configuration with secrets masked.
  returned: success
  type: dict
  sample: {freeze: false, bypassed_backends: []}
after:
  description: The declared states as read after the change (in check mode, as they would be).
  returned: success
  type: dict
  sample: {freeze: true, bypassed_backends: []}
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_engine import EngineState


def main():
    run(EngineState)


if __name__ == '__main__':
    main()
