# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""coordinator_instances lookup: the instances registered with LMCache coordinators, each registration checked."""

from __future__ import annotations

DOCUMENTATION = r'''
name: coordinator_instances
version_added: 0.2.0
short_description: The instances registered with LMCache coordinators, for templates and conditions
description:
  - For each coordinator URL, the instances registered with it, as
    RV(lmcache.kvcache.lmcache_coordinator_info#module:instances) of M(lmcache.kvcache.lmcache_coordinator_info),
    with id, address, HTTP port, node URL, registration time, metadata and, with O(usage=true), L1 and L2 usage.
  - Every registration is checked on its own (anything that can reach a coordinator can register); a bad one, or one
    at an address outside O(networks), is left out with a warning that names it. The instances of several
    coordinators come in one list, in the order given. Each says whether O(networks) vouches for it (C(vouched)).
  - The same option checks, messages and masking of secrets as the module; a coordinator that cannot be read fails the
    lookup with the method, URL, HTTP status and its own text.
author:
  - LMCache maintainers (@LMCache)
options:
  _terms:
    description: URLs of LMCache coordinators, read at once (up to 16 at a time).
    type: list
    elements: str
    required: true
  usage:
    description: Also read each instance's L1 and L2 usage.
    type: bool
    default: false
  node_scheme:
    description: The scheme of the node URLs returned.
    type: str
    choices: [http, https]
    default: http
  strict:
    description: Fail, naming them all, when any registration is left out, instead of warning and returning the others.
    type: bool
    default: false
extends_documentation_fragment:
  - lmcache.kvcache.connection.plugins
  - lmcache.kvcache.registry.plugins
seealso:
  - module: lmcache.kvcache.lmcache_coordinator_info
  - plugin: lmcache.kvcache.coordinator
    plugin_type: inventory
'''

EXAMPLES = r'''
- name: Read every node the coordinator knows, from the controller (the key only to the fleet's own addresses)
  lmcache.kvcache.lmcache_server_info:
    url: "{{ item.url }}"
    url_vouched: "{{ item.vouched }}"
  loop: "{{ query('lmcache.kvcache.coordinator_instances', 'http://10.0.0.5:9300', networks=['10.0.0.0/16']) }}"
  loop_control:
    label: "{{ item.instance_id }}"
  delegate_to: localhost
  run_once: true

- name: Wait for a node to register before the window
  ansible.builtin.assert:
    that: "'node-17' in query('lmcache.kvcache.coordinator_instances', 'http://10.0.0.5:9300') | map(attribute='instance_id')"
'''

RETURN = r'''
_list:
  description: The registered instances, each as in RV(lmcache.kvcache.lmcache_coordinator_info#module:instances).
  type: list
  elements: dict
'''

import typing as t

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._lookup import OperationLookup


class LookupModule(OperationLookup):
    module = 'lmcache_coordinator_info'

    def returned(self, result: t.Dict[str, t.Any]) -> t.List[t.Any]:
        return list(result['instances'])
