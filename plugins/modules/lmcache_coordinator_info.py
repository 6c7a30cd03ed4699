#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_coordinator_info
short_description: List the LMCache instances registered with a coordinator
version_added: 0.2.0
description:
  - Reads the instances registered with an LMCache coordinator (C(GET /instances), coordinator 0.5.1 and later), each
    instance's id, address, HTTP port and node URL, registration time and metadata, and with O(usage=true) its L1 and
    L2 usage (C(GET /instances/usage), 0.5.5 and later).
  - Anything that can reach a coordinator can register with it, so every registration is checked on its own, by the
    same rules as the C(lmcache.kvcache.coordinator) inventory. An id that is not a plain name, an address that could
    carry a path or a user, a port out of range, metadata that is not plain data (or that Ansible would read as a type
    marker), an unreadable usage entry, or an id listed at several addresses leaves that instance out, named in
    RV(left_out) and in a warning; the others are returned.
  - With O(networks), a registration at an address outside it is left out the same way (and listed in RV(outside));
    the ones returned are vouched for (RV(instances[].vouched)), and the API key may go to them. Without it, none is.
  - The lookup C(lmcache.kvcache.coordinator_instances) returns the same list for templates and conditions.
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
  usage:
    description: Also read each instance's L1 and L2 usage into RV(instances[].usage).
    type: bool
    default: false
  node_scheme:
    description: The scheme of the node URLs in RV(instances[].url) (the coordinator knows addresses and ports only).
    type: str
    choices: [http, https]
    default: http
  strict:
    description: Fail, naming them all, when any registration is left out, instead of warning and returning the others.
    type: bool
    default: false
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.registry
  - lmcache.kvcache.attributes
  - lmcache.kvcache.attributes.info_module
seealso:
  - module: lmcache.kvcache.lmcache_server_info
  - plugin: lmcache.kvcache.coordinator
    plugin_type: inventory
  - plugin: lmcache.kvcache.coordinator_instances
    plugin_type: lookup
'''

EXAMPLES = r'''
- name: List the nodes registered with the coordinator, in the fleet's own network
  lmcache.kvcache.lmcache_coordinator_info:
    url: http://10.0.0.5:9300
    networks:
      - 10.0.0.0/16
    usage: true
  register: coordinator
  delegate_to: localhost
  run_once: true

- name: Read each registered node's server, from the controller (the key only where networks vouched for it)
  lmcache.kvcache.lmcache_server_info:
    url: "{{ item.url }}"
    url_vouched: "{{ item.vouched }}"
  loop: "{{ coordinator.instances }}"
  loop_control:
    label: "{{ item.instance_id }}"
  delegate_to: localhost
  run_once: true

- name: Say which registrations were left out, and why
  ansible.builtin.debug:
    msg: "{{ coordinator.left_out }}"
  when: coordinator.left_out | length > 0
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
  description: How many instances are registered, and how many were left out; on failure, the method, URL, HTTP status and the coordinator's own text.
  returned: always
  type: str
  sample: 2 instances are registered with the coordinator http://10.0.0.5:9300.
instances:
  description: The registrations that passed every check, in the coordinator's order.
  returned: success
  type: list
  elements: dict
  sample: [{instance_id: node-a, ip: 10.0.0.11, http_port: 8080, url: 'http://10.0.0.11:8080',
            registration_time: 1795806182.94, metadata: {rack: r1}}]
  contains:
    instance_id:
      description: The instance id, a plain name.
      type: str
    ip:
      description: The address it registered with, an IP address or a DNS name.
      type: str
    http_port:
      description: Its HTTP API port.
      type: int
    url:
      description: Its node URL, from O(node_scheme), the address and the port.
      type: str
    vouched:
      description:
        - Whether O(networks) vouches for its address (V(false) when O(networks) is not set). Pass it on as
          O(lmcache.kvcache.lmcache_server_info#module:url_vouched) to send the API key only where it is V(true).
      type: bool
    registration_time:
      description: When it registered (seconds since the epoch); V(null) where the coordinator does not say.
      type: float
    metadata:
      description: What it registered with, as plain data.
      type: dict
    usage:
      description:
        - With O(usage=true), its usage by tier (V(l1), V(l2)), each with V(used_bytes), V(capacity_bytes) and
          V(usage_ratio); V(null) where the coordinator has no usage entry for it.
      type: dict
      returned: when O(usage=true)
left_out:
  description: One sentence per registration left out, naming the coordinator, the instance and the field.
  returned: success
  type: list
  elements: str
  sample:
    - >-
      the coordinator http://10.0.0.5:9300, GET /instances: instance evil (instances[3]).ip 'user@10.0.0.9' is neither
      an IP address nor a host name
outside:
  description: The registrations left out because O(networks) does not vouch for their address.
  returned: success
  type: list
  elements: dict
  sample: [{instance_id: stranger, url: 'http://192.0.2.9:8080'}]
  contains:
    instance_id:
      description: The instance id it registered with.
      type: str
    url:
      description: The node URL it registered.
      type: str
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_coordinator import CoordinatorInstances


def main():
    run(CoordinatorInstances)


if __name__ == '__main__':
    main()
