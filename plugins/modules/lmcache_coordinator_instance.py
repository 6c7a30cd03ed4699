#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_coordinator_instance
short_description: Take an instance off an LMCache coordinator's registry
version_added: 0.2.0
description:
  - Deregisters one instance from an LMCache coordinator (C(DELETE /instances/<instance_id>), coordinator 0.4.7 and
    later). Use it for a registration that is not one of the fleet's nodes, which anything that reaches a
    coordinator can make (C(POST /instances) takes no key), or for a node that is gone for good.
  - Idempotent. The module reads the registry first and deletes only a registration that is there. The coordinator
    answers the delete alike whether or not the instance was registered, so C(changed) comes from the registry read
    before and after.
  - With O(networks), an instance registered at an address inside it is one of the fleet's and is kept, saying so.
    The rulebook C(lmcache.kvcache.deregister_outside) relies on it, so that a node that registered again from a
    vouched address in the meantime is never taken off.
  - A live node registers again with its next heartbeat. Stop it first to take it off for good.
author:
  - LMCache maintainers (@LMCache)
options:
  url:
    description:
      - Base URL of the LMCache coordinator's HTTP API, for example V(http://10.0.0.5:9300).
      - If not set, the value of the E(LMCACHE_COORDINATOR_URL) environment variable is used. One of them is required.
      - Must not carry credentials (C(user:password@)).
    type: str
    default: null
  instance_id:
    description:
      - The id the instance registered with. Compared exactly; a registration whose address or port cannot be read is
        found all the same.
      - Not empty, V(.) or V(..).
    type: str
    required: true
  state:
    description: V(absent), the only state, where the coordinator's registry does not hold the instance.
    type: str
    choices: [absent]
    default: absent
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.registry
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode the registry is read, not changed; C(changed) and the diff say what would change.
    support: full
  diff_mode:
    description: Shows whether the instance is registered, and at which addresses, before and after.
    support: full
  idempotent:
    description: A second run finds the instance gone and reports no change.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_coordinator_info
  - plugin: lmcache.kvcache.coordinator
    plugin_type: inventory
'''

EXAMPLES = r'''
- name: Take a stranger's registration off the coordinator, unless it is in the fleet's networks
  lmcache.kvcache.lmcache_coordinator_instance:
    url: http://10.0.0.5:9300
    instance_id: node-17
    networks:
      - 10.0.0.0/16
  delegate_to: localhost

- name: Take off every registration the coordinator lists outside the fleet's networks
  lmcache.kvcache.lmcache_coordinator_instance:
    url: http://10.0.0.5:9300
    instance_id: "{{ item.instance_id }}"
    networks:
      - 10.0.0.0/16
  loop: "{{ coordinator.outside }}"
  loop_control:
    label: "{{ item.instance_id }}"
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
url:
  description: The coordinator's URL, without any credentials.
  returned: always
  type: str
  sample: http://10.0.0.5:9300
status:
  description: HTTP status of the last request; V(null) when it got no answer.
  returned: always
  type: int
  sample: 200
msg:
  description: What was done; on failure, the method, URL, HTTP status and the coordinator's own text.
  returned: always
  type: str
  sample: Deregistered stranger at 192.0.2.9:8080 from the coordinator http://10.0.0.5:9300.
instance_id:
  description: The instance asked for.
  returned: success
  type: str
  sample: stranger
registered:
  description: Whether the coordinator lists the instance after the task (in check mode, whether it would).
  returned: success
  type: bool
  sample: false
addresses:
  description: The addresses and ports it was registered at before the task, as C(ip:port) (the coordinator's text, bounded).
  returned: success
  type: list
  elements: str
  sample: ['192.0.2.9:8080']
kept_vouched:
  description: Whether it was kept because O(networks) vouches for every address it is registered at.
  returned: success
  type: bool
  sample: false
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_coordinator import Deregistration


def main():
    run(Deregistration)


if __name__ == '__main__':
    main()
