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
  - With O(hits=true) (the default), where the server has C(GET /metrics) (LMCache 0.5.1 and later), the cache's own
    counters (lookups, tokens looked up and found, in L1 and L2, keys, loads, stores, eviction runs) and the hit ratios
    they give, in RV(hits), exactly the server's numbers, summed over its models and tenants, or per tenant with
    O(hits_per_tenant=true). Counters only grow while a server runs; compare two reads (or two reports, see
    M(lmcache.kvcache.lmcache_report)) for the ratio over an interval.
  - With O(audit=true), which administrative routes (running code, reading the environment, the log level, resetting
    counters, cache and quota writes, storage reconfiguration) anyone who can reach the server may call without an API
    key, in RV(exposure). Nothing is run to find out. Each route the server lists is asked with C(PATCH), a method no
    LMCache route takes, and without a key. A server that checks keys before routing (0.5.7 and later with a key)
    answers 401; one that does not answers 405, which says the route is there for anyone.
  - Works on every LMCache API generation (0.4.1 and later), and on the LMCache engine inside vLLM, through its
    internal API server (RV(kind=engine)). An engine's health is its periodic threads' (C(GET
    /periodic-threads-health)); its L1 is its local CPU backend, whose objects its C(/metrics) count, each one chunk of
    the KV shape its C(/meta) gives, in the size its C(/conf) gives; its model, KV shape, place in the pod, freeze, hot
    cache and backends are in RV(engine); its hit counters are its C(lmcache:) counters.
  - Given the scheduler of a vLLM pod (its internal API server's port start, whose C(/meta) says C(role=scheduler)),
    reads every worker of the pod (port start + 1 + I(i)) and reports the pod - its workers in RV(pod) and each one's
    result in RV(workers), the L1 summed, healthy only when every worker is.
  - A server that is still starting (its health check answers HTTP 503) is reported with RV(healthy=false) and the
    server's reason; the task does not fail.
  - A node whose periodic threads are not all active (C(GET /periodic-threads-health), LMCache 0.5.0 and later) is
    reported with RV(healthy=false) too, the threads named in RV(health_reason) and RV(threads). Its health check still
    answers 200 while its eviction loop or L2 store thread is dead, until its L1 fills and stops taking stores.
  - An unreachable server, or one that is not an LMCache server, fails the task.
author:
  - LMCache maintainers (@LMCache)
options:
  hits:
    description:
      - Read the cache's counters and hit ratios from C(GET /metrics) into RV(hits) (one more request).
    type: bool
    default: true
    version_added: 0.2.0
  hits_per_tenant:
    description:
      - Also report the lookup counters and hit ratio of each model and tenant (cache salt) in RV(hits.tenants).
    type: bool
    default: false
    version_added: 0.2.0
  audit:
    description:
      - Find which administrative routes answer without an API key, into RV(exposure) (one request per route the server
        lists, none of which can change anything).
    type: bool
    default: false
    version_added: 0.2.0
  config:
    description:
      - Also read the configuration the node runs with into RV(config) (C(GET /config) on 0.5.1 and later, C(GET
        /conf) on 0.4.5 - 0.5.0 and on engines), every value that may hold a secret masked. The fleet report compares
        it across the fleet (configuration drift).
    type: bool
    default: false
    version_added: 0.2.0
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

- name: Read the cache hit ratio and which admin routes anyone can call
  lmcache.kvcache.lmcache_server_info:
    audit: true
  register: lmcache

- name: Stop when anyone on the network can run code on the cache server
  ansible.builtin.assert:
    that: lmcache.exposure.exposed | length == 0
    fail_msg: "Open to anyone: {{ lmcache.exposure.exposed | join(', ') }}; set an API key (LMCache 0.5.7 and later)"

- name: Show the hit ratio
  ansible.builtin.debug:
    msg: "{{ lmcache.hits.hit_tokens }} of {{ lmcache.hits.requested_tokens }} tokens found ({{ lmcache.hits.hit_ratio }})"
  when: lmcache.hits is not none and lmcache.hits.hit_ratio is not none

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
      V(G3) (C(/cache/*), 0.5.1 and later); V(engine) for an LMCache engine inside vLLM; V(null) if the task failed
      before finding it out.
  returned: always
  type: str
  sample: G3
version:
  description: The server's version as it reports it; V(null) for G1 servers, which do not report one, or if not read.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
kind:
  description: V(server) for an C(lmcache server) node, V(engine) for the LMCache engine inside vLLM.
  returned: success
  type: str
  sample: server
  version_added: 0.2.0
engine:
  description: An engine's model and state; V(null) on a server.
  returned: success
  type: dict
  version_added: 0.2.0
  sample: {model_name: meta-llama/Llama-3.1-8B-Instruct, role: worker, worker_id: 0, world_size: 8, local_world_size: 8,
           kv_shape: [32, 2, 256, 8, 128], kv_dtype: torch.bfloat16, freeze: false, hot_cache: true,
           bypassed_backends: [], backends: [LocalCPUBackend]}
  contains:
    model_name:
      description: The model the engine serves.
      type: str
    role:
      description: V(worker) or V(scheduler).
      type: str
    worker_id:
      description: Its worker id in the pod.
      type: int
    world_size:
      description: The pod's tensor-parallel world size.
      type: int
    kv_shape:
      description: The KV cache shape of one chunk (layers, K and V, chunk tokens, heads, head size).
      type: list
      elements: int
    freeze:
      description: Whether stores are frozen (see M(lmcache.kvcache.lmcache_engine)).
      type: bool
    hot_cache:
      description: Whether the local CPU backend keeps what is stored.
      type: bool
    bypassed_backends:
      description: The backends the engine bypasses.
      type: list
      elements: str
    backends:
      description: Every storage backend of the engine.
      type: list
      elements: str
pod:
  description: Given a pod's scheduler, its URL and its workers' URLs.
  returned: when O(url) is the scheduler of a vLLM pod
  type: dict
  version_added: 0.2.0
  sample: {scheduler: 'http://10.0.0.11:8000', workers: ['http://10.0.0.11:8001', 'http://10.0.0.11:8002']}
workers:
  description: Given a pod's scheduler, each worker's result, by its URL.
  returned: when O(url) is the scheduler of a vLLM pod
  type: dict
  version_added: 0.2.0
capabilities:
  description:
    - Optional endpoints the server offers, by name. Known names are V(version), V(config), V(metrics), V(l2_objects),
      V(object_delete), V(l2_adapters), V(quota), V(prefetch), and the per-request V(kvcache_info), V(pin), V(compress)
      and V(kvcache_clear); on an engine V(engine_meta), V(freeze), V(hot_cache), V(bypass), V(backends),
      V(runtime_config) and V(periodic_threads).
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
hits:
  description:
    - The cache's counters from the server's C(GET /metrics), summed over its models and tenants, and the ratios they
      give. Counters count from the server's start.
    - V(null) when O(hits=false), the server is not healthy, has no C(/metrics) (LMCache before 0.5.1), or its counters
      could not be read; RV(unavailable) says why. A counter the server does not export is V(null) (never 0), with the
      reason in RV(unavailable) under C(hits.<counter>).
  returned: success
  type: dict
  sample: {lookups: 4, requested_tokens: 2048, hit_tokens: 1024, hit_tokens_l1: 1024, hit_tokens_l2: 0, hit_keys_l1: 4,
           hit_keys_l2: 0, stores: 2, retrieves: 2, chunks_loaded: 4, l1_chunks_written: 4, l1_chunks_read: 4,
           eviction_runs: 0, hit_ratio: 0.5, l1_hit_share: 1.0, l2_hit_share: 0.0}
  contains:
    lookups:
      description: Lookups the server completed.
      type: int
    requested_tokens:
      description: Tokens looked up (whole chunks only).
      type: int
    hit_tokens:
      description: Tokens found in L1 or L2 (the cached prefix of each lookup).
      type: int
    hit_tokens_l1:
      description: Of RV(hits.hit_tokens), those L1 already held.
      type: int
    hit_tokens_l2:
      description: Of RV(hits.hit_tokens), those L2 added beyond what L1 held.
      type: int
    hit_keys_l1:
      description: Keys (chunks per rank) found in L1.
      type: int
    hit_keys_l2:
      description: Keys loaded from L2 into L1 for a lookup.
      type: int
    stores:
      description: Store transfers from the engine that finished.
      type: int
    retrieves:
      description: Retrieve transfers to the engine that finished.
      type: int
    chunks_loaded:
      description: Chunks loaded into the engine.
      type: int
    l1_chunks_written:
      description: Chunks written to L1.
      type: int
    l1_chunks_read:
      description: Chunks read from L1.
      type: int
    eviction_runs:
      description: Cycles of the L1 eviction loop in which usage was at the watermark and the policy ran.
      type: int
    hit_ratio:
      description: RV(hits.hit_tokens) over RV(hits.requested_tokens); V(null) when nothing was looked up.
      type: float
    l1_hit_share:
      description: Of the hits, the share L1 served; V(null) when nothing was found.
      type: float
    l2_hit_share:
      description: Of the hits, the share L2 added; V(null) when nothing was found.
      type: float
    tenants:
      description:
        - With O(hits_per_tenant=true), one entry per model and tenant, sorted, with V(model_name), V(cache_salt), the
          lookup counters above and V(hit_ratio), V(l1_hit_share), V(l2_hit_share).
      type: list
      elements: dict
      returned: when O(hits_per_tenant=true)
exposure:
  description:
    - With O(audit=true), the administrative routes the server lists, by what a request without an API key got.
    - V(null) when O(audit=false), or when the audit could not be done (RV(unavailable) says why).
  returned: success
  type: dict
  sample: {exposed: [POST /run_script, GET /env, GET /loglevel, POST /metrics/reset, POST /cache/clear], protected: [],
           unclear: []}
  contains:
    exposed:
      description: The routes that answered without a key (C(405) to the probe); anyone who can reach the server can call them.
      type: list
      elements: str
    protected:
      description: The routes that asked for a key (C(401) or C(403)).
      type: list
      elements: str
    unclear:
      description: The routes the probe could not tell about, each with why (another status, or a route that takes C(PATCH)).
      type: list
      elements: str
threads:
  description:
    - The node's periodic threads' health, V(null) where the node has no C(GET /periodic-threads-health) (before
      0.5.0), with the reason in RV(unavailable).
  returned: success
  type: dict
  version_added: 0.2.0
  sample: {healthy: false, unhealthy: [L1-eviction-thread], late: []}
  contains:
    healthy:
      description:
        - Whether every critical and high-level periodic thread that runs is active. LMCache counts a thread not active
          once its last run is more than three of its intervals ago (15 ms for its 5 ms drain thread, which a loaded
          host exceeds for a moment); the collection counts it not active only when it has also not run for 1 s, or
          never ran.
      type: bool
    unhealthy:
      description: The names of those that are not active.
      type: list
      elements: str
    late:
      description:
        - The names of the threads the node counts not active that ran within the last second (late, not stuck).
      type: list
      elements: str
      version_added: 0.2.0
config:
  description:
    - With O(config=true), the configuration the node runs with, as the node gives it (nested), every value that may
      hold a secret masked (a key whose words name one - key, token, secret, password, credential, auth - and the
      user:password of any URL). V(null) without O(config), or where the node has no route for it.
  returned: success
  type: dict
  version_added: 0.2.0
  sample: {mp: {chunk_size: 256, host: 10.0.0.11, port: 5555}, storage_manager: {eviction_config: {eviction_policy: LRU}}}
unavailable:
  description:
    - The informational fields (V(l2_adapters), V(quotas), V(hits), V(exposure), V(threads), V(config), V(engine),
      and counters as V(hits.<counter>))
      that could not be read, each with the reason (method, URL, HTTP status and the server's text). Each is V(null)
      in the result; the task warns where the server lists the route but it failed. Health comes from the health and
      status routes only, so such a host stays healthy.
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
