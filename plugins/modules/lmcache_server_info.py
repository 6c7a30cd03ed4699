#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_server_info
short_description: Report an LMCache server's health, version, API generation and cache usage
version_added: 0.1.0
description:
  - Reads an LMCache server's health, version and HTTP API generation, the optional endpoints it offers, and its L1 cache
    usage (objects, bytes used and total, usage ratio against the eviction watermark), its L2 adapters, per-tenant
    quotas, whether it can prefetch, and its active sessions.
  - A value the server reports in a shape the module cannot read (a count as a string, a missing L1 section) fails the
    task with a message naming the field; it is never reported as 0.
  - Works on every LMCache API generation (0.4.1 and later).
  - A server that is still starting (its health check answers HTTP 503) is reported with RV(healthy=false) and the
    server's reason; the task does not fail. An unreachable server, or one that is not an LMCache server, fails the task.
author:
  - LMCache maintainers (@LMCache)
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.attributes
  - lmcache.kvcache.attributes.info_module
seealso:
  - module: lmcache.kvcache.lmcache_kvcache_clear
  - module: lmcache.kvcache.lmcache_quota
'''

EXAMPLES = r'''
- name: Read the LMCache server on this GPU host
  lmcache.kvcache.lmcache_server_info:
  register: lmcache

- name: Fail early when a host's cache is not healthy
  ansible.builtin.assert:
    that: lmcache.healthy
    fail_msg: "LMCache on {{ inventory_hostname }} is not healthy: {{ lmcache.health_reason }}"

- name: Read a server exposed on the network, from the controller, with an API key
  lmcache.kvcache.lmcache_server_info:
    url: https://gpu-17.example.com:8080
    api_key: "{{ vault_lmcache_api_key }}"
    ca_path: /etc/pki/lmcache-ca.pem
  delegate_to: localhost

- name: Warn about hosts whose L1 is above the eviction watermark
  ansible.builtin.debug:
    msg: "L1 at {{ (lmcache.l1.usage_ratio * 100) | round(1) }}% (evicts at {{ lmcache.eviction_watermark * 100 }}%)"
  when: lmcache.l1.usage_ratio is not none and lmcache.l1.usage_ratio >= lmcache.eviction_watermark
'''

RETURN = r'''
url:
  description: The server's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8080
status:
  description:
    - HTTP status of the server's health check (200 healthy, 503 starting); on failure, of the failed request, or
      V(null) when it got no answer.
  returned: always
  type: int
  sample: 200
msg:
  description: The server's state in a sentence; on failure, the method, URL, HTTP status and the server's own error text.
  returned: always
  type: str
  sample: http://127.0.0.1:8080 (LMCache 0.5.6-g3e11e108, API G3) is healthy; L1 holds 4 objects (16.00 MB of 1.00 GB).
healthy:
  description: Whether the server's health check answered that it is healthy.
  returned: success
  type: bool
  sample: true
health_reason:
  description: Why the server is not healthy, in the server's words; V(null) when it is healthy.
  returned: success
  type: str
  sample: engine not initialized
api_generation:
  description:
    - The server's HTTP API generation. V(G1) (C(/api/*), 0.4.1 - 0.4.4), V(G2) (top-level routes, 0.4.5 - 0.5.0) or
      V(G3) (C(/cache/*), 0.5.1 and later); V(null) if the task failed before finding it out.
  returned: always
  type: str
  sample: G3
version:
  description: The server's version as it reports it; V(null) for G1 servers, which do not report one, or if not read.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
capabilities:
  description:
    - Optional endpoints the server offers, by name. Known names are V(version), V(config), V(metrics), V(l2_objects),
      V(object_delete), V(l2_adapters), V(quota), V(prefetch), and the per-request V(kvcache_info), V(pin), V(compress)
      and V(kvcache_clear).
    - Empty when the server does not publish its routes (no C(/openapi.json)).
  returned: success
  type: list
  elements: str
  sample: [config, l2_adapters, l2_objects, metrics, object_delete, prefetch, quota, version]
chunk_size:
  description: Tokens per cached chunk; V(null) while the server is not healthy.
  returned: success
  type: int
  sample: 256
l1:
  description: L1 (CPU memory) cache usage; V(null) while the server is not healthy.
  returned: success
  type: dict
  sample: {objects: 4, bytes_used: 16777216, bytes_total: 1073741824, usage_ratio: 0.015625}
  contains:
    objects:
      description: Number of KV objects (chunks) in L1.
      type: int
      sample: 4
    bytes_used:
      description: Bytes of L1 in use.
      type: int
      sample: 16777216
    bytes_total:
      description: L1 capacity in bytes.
      type: int
      sample: 1073741824
    usage_ratio:
      description: RV(l1.bytes_used) / RV(l1.bytes_total), between 0 and 1.
      type: float
      sample: 0.015625
eviction_watermark:
  description: L1 usage ratio at which the server starts evicting; V(null) if not reported.
  returned: success
  type: float
  sample: 0.8
above_eviction_watermark:
  description: Whether L1 usage has reached the eviction watermark, so cached requests are being evicted.
  returned: success
  type: bool
  sample: false
l2_adapters:
  description:
    - The server's L2 adapters, from C(/config/adapters) (LMCache 0.5.1 and later) or else from C(/status). Empty when
      none are configured or the server is not healthy; V(null) when C(/config/adapters) is listed but could not be
      read (the reason is in RV(unavailable)). The host stays healthy.
  returned: success
  type: list
  elements: dict
  sample: [{index: 0, type: fs, tier: l2, primary: true}]
  contains:
    index:
      description: The adapter's position in the server's configuration; V(null) when only C(/status) tells.
      type: int
      sample: 0
    type:
      description: The adapter's kind, for example V(fs).
      type: str
      sample: fs
    tier:
      description: The tier it serves.
      type: str
      sample: l2
    primary:
      description: Whether it is the primary L2 adapter; V(null) when only C(/status) tells.
      type: bool
      sample: true
quotas:
  description:
    - Per-tenant (cache salt) quotas set on the server, by salt order; V(null) when the server has no quota routes,
      is not healthy, or its quota route could not be read (the reason is in RV(unavailable)). The host stays healthy.
  returned: success
  type: list
  elements: dict
  sample: [{cache_salt: tenant-a, limit_gb: 0.5, current_usage_gb: 0.0}]
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
      description: What the tenant's cached data uses now, in GB, where the server reports it.
      type: float
      sample: 0.0
prefetch_supported:
  description: Whether the server can warm a request's chunks from L2 into L1 (C(POST /cache/prefetches)).
  returned: success
  type: bool
  sample: true
active_sessions:
  description: Number of active sessions on the server; V(null) while the server is not healthy.
  returned: success
  type: int
  sample: 0
unavailable:
  description:
    - The informational fields (V(l2_adapters), V(quotas)) that could not be read although the server lists their
      route, each with the reason (method, URL, HTTP status and the server's text). Each is V(null) in the result, and
      the task warns. Health comes from the health and status routes only, so such a host stays healthy.
  returned: success
  type: dict
  sample: {l2_adapters: 'GET http://10.0.0.11:8080/config/adapters failed: HTTP 404 Not Found: Not Found'}
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import ServerInfo


def main():
    run(ServerInfo)


if __name__ == '__main__':
    main()
