# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""server_info lookup: lmcache_server_info's result for each URL, for templates and conditions."""

from __future__ import annotations

DOCUMENTATION = r'''
name: server_info
version_added: 0.2.0
short_description: Read LMCache servers' health, usage, hit ratios and exposure, for templates and conditions
description:
  - For each URL, what M(lmcache.kvcache.lmcache_server_info) returns for it (health, version, API generation, L1
    usage, L2 adapters, quotas, RV(lmcache.kvcache.lmcache_server_info#module:hits), and with O(audit=true)
    RV(lmcache.kvcache.lmcache_server_info#module:exposure)), read from the controller.
  - The same option checks, messages and masking of secrets as the module; a server that cannot be read fails the
    lookup with the method, URL, HTTP status and the server's own text. A server that is starting (HTTP 503) is a
    result with C(healthy=false), not a failure.
author:
  - LMCache maintainers (@LMCache)
options:
  _terms:
    description: URLs of LMCache servers' HTTP APIs, read at once (up to 16 at a time).
    type: list
    elements: str
    required: true
  hits:
    description: Read the cache's counters and hit ratios from C(GET /metrics).
    type: bool
    default: true
  hits_per_tenant:
    description: Also the counters of each model and tenant.
    type: bool
    default: false
  audit:
    description: Find which administrative routes answer without an API key.
    type: bool
    default: false
  config:
    description:
      - Also read the configuration the node runs with into C(config), every value that may hold a secret masked (see
        M(lmcache.kvcache.lmcache_server_info)).
    type: bool
    default: false
    version_added: 0.2.0
extends_documentation_fragment:
  - lmcache.kvcache.connection.plugins
seealso:
  - module: lmcache.kvcache.lmcache_server_info
'''

EXAMPLES = r'''
- name: Clear only when the node is healthy and its cache helps less than it costs
  lmcache.kvcache.lmcache_kvcache_clear:
    url: "{{ lmcache_url }}"
  when: >-
    (lookup('lmcache.kvcache.server_info', lmcache_url).healthy)
    and (lookup('lmcache.kvcache.server_info', lmcache_url).hits.hit_ratio | default(1, true)) < 0.05
  delegate_to: localhost

- name: Refuse to go on when a server answers its admin routes without a key
  ansible.builtin.assert:
    that: (lookup('lmcache.kvcache.server_info', lmcache_url, audit=true).exposure.exposed | length) == 0
    fail_msg: "{{ lmcache_url }} lets anyone run code or read its environment: set an API key"

- name: Show the chunk size the node runs with
  ansible.builtin.debug:
    msg: "{{ lookup('lmcache.kvcache.server_info', lmcache_url, config=true).config.chunk_size }}"
'''

RETURN = r'''
_list:
  description: One M(lmcache.kvcache.lmcache_server_info) result per URL (its return values, without C(changed)).
  type: list
  elements: dict
'''

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._lookup import OperationLookup


class LookupModule(OperationLookup):
    module = 'lmcache_server_info'
