#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_quota
short_description: Set or remove a tenant's KV cache quota on an LMCache server
version_added: 0.1.0
description:
  - Declares the quota of one tenant, named by its cache salt, on the LMCache node at O(url) (C(PUT /quota/<salt>),
    C(DELETE /quota/<salt>), LMCache 0.4.5 and later), its L1 budget on that node.
  - With O(coordinator_url), declares the tenant's fleet-wide quota on the LMCache coordinator instead (LMCache 0.5.7
    and later), its L2 budget across every node; the node at O(url) is not contacted.
  - Quotas are soft. LMCache's isolated-LRU eviction evicts a tenant's data first when it is over its quota.
  - Idempotent. The module reads the quota first and changes it only when it differs from O(limit_gb).
  - B(Removing a quota evicts the tenant's data.) Without a quota, the tenant's cached bytes count as over budget from
    the next eviction cycle; the diff and the message say so.
  - M(lmcache.kvcache.lmcache_server_info) lists every quota of a node.
author:
  - LMCache maintainers (@LMCache)
options:
  cache_salt:
    description:
      - The tenant's cache salt, as the serving engine passes it to LMCache.
      - Not empty; no V(/), control characters or surrounding spaces.
    type: str
    required: true
  limit_gb:
    description:
      - The quota in GB (10^9 bytes), more than 0 and at most 1048576. Required with O(state=present).
    type: float
  state:
    description: Whether the tenant has the quota O(limit_gb) (V(present)) or no quota at all (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  coordinator_url:
    description:
      - Base URL of an LMCache coordinator (0.5.7 and later) whose fleet-wide (L2) quota to manage, instead of the node's.
      - The connection options (O(api_key), TLS, O(timeout), O(retries)) apply to it.
    type: str
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode the quota is read, not changed; C(changed) and the diff say what would change.
    support: full
  diff_mode:
    description: Shows the tenant's quota before and after.
    support: full
  idempotent:
    description: A second run finds the quota as asked and reports no change.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_server_info
'''

EXAMPLES = r'''
- name: Give tenant-a 0.5 GB of KV cache on this GPU host
  lmcache.kvcache.lmcache_quota:
    cache_salt: tenant-a
    limit_gb: 0.5

- name: Give tenant-a 20 GB of L2 across the fleet, on the coordinator (LMCache 0.5.7)
  lmcache.kvcache.lmcache_quota:
    coordinator_url: http://lmcache-coordinator:9300
    cache_salt: tenant-a
    limit_gb: 20

- name: Remove tenant-b's quota (its cached data may then be evicted)
  lmcache.kvcache.lmcache_quota:
    cache_salt: tenant-b
    state: absent

- name: Read every quota of the node
  lmcache.kvcache.lmcache_server_info:
  register: lmcache

- name: Show them
  ansible.builtin.debug:
    msg: "{{ lmcache.quotas | items2dict(key_name='cache_salt', value_name='limit_gb') }}"
'''

RETURN = r'''
url:
  description: The node's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8080
status:
  description: HTTP status of the task's last request; V(null) when it got no answer.
  returned: always
  type: int
  sample: 200
api_generation:
  description: The node's HTTP API generation; V(null) if the task failed before finding it out, or did not contact the node.
  returned: always
  type: str
  sample: G3
version:
  description: The node's version as it reports it; V(null) if not read.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
coordinator_url:
  description: The coordinator's URL, without credentials, when the quota is the coordinator's.
  returned: when O(coordinator_url) is set
  type: str
  sample: http://127.0.0.1:9300
cache_salt:
  description: The tenant.
  returned: success
  type: str
  sample: tenant-a
state:
  description: The state asked for.
  returned: success
  type: str
  sample: present
quota:
  description: The tenant's quota afterwards (in check mode, as it would be); V(null) when it has none.
  returned: success
  type: dict
  sample: {cache_salt: tenant-a, limit_gb: 0.5, current_usage_gb: 0.0}
  contains:
    cache_salt:
      description: The tenant's cache salt.
      type: str
      sample: tenant-a
    limit_gb:
      description: The quota, in GB.
      type: float
      sample: 0.5
    current_usage_gb:
      description: What the tenant's cached data uses, in GB, where the server reports it.
      type: float
      sample: 0.0
previous_limit_gb:
  description: The quota before the task, in GB; V(null) when there was none.
  returned: success
  type: float
  sample: 0.25
msg:
  description: What was done, in a sentence; on failure, the method, URL, HTTP status and the server's own error text.
  returned: always
  type: str
  sample: Set the quota of tenant 'tenant-a' on http://127.0.0.1:8080 (LMCache 0.5.6-g3e11e108, API G3) to 0.5 GB (was not set).
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import TenantQuota


def main():
    run(TenantQuota)


if __name__ == '__main__':
    main()
