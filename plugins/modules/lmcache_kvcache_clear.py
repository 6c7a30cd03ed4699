#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_kvcache_clear
short_description: Clear the L1 KV cache of an LMCache server, or one request's chunks on one instance
version_added: 0.1.0
description:
  - Clears the KV objects held in an LMCache server's L1 (CPU memory) cache, on every LMCache API generation
    (C(POST /api/clear-cache) on G1, C(POST /clear-cache) on G2, C(POST /cache/clear) on G3).
  - Reads the server's status before and after, and reports how many objects and bytes were freed.
    The task reports a change when objects left L1 (in check mode, when L1 holds objects); clearing an empty cache sends
    no clear at all.
  - The server does not say how many objects it removed, and LMCache lists no L1 keys (C(GET /cache/objects) lists L2
    only). RV(objects_cleared) is what left L1 by the server's own counts, before less after, so it never counts an
    object that is still there; a server that answers the clear but keeps its objects reports 0, and RV(msg) says that
    nothing left L1. Objects stored by requests while the clear runs make the count smaller, never larger (they show in
    RV(after), and RV(msg) says how many are there after the clear). In check mode it is what the clear would remove.
  - L2 data (for example an C(fs) adapter's files) is not touched by an instance-wide clear.
  - B(LMCache inside vLLM.) On an engine's internal API server (C(DELETE /cache/clear), which clears every backend of
    the engine), the engine's stores are frozen for the clear (C(PUT /freeze/enable)) so that it does not race new
    stores, and unfrozen after it, also when the clear fails (RV(froze_stores)); an engine the operator froze stays
    frozen. RV(objects_cleared) is what left the engine's L1 by its C(/metrics), before less after. Given the scheduler
    of a vLLM pod, every worker of the pod is cleared, each in turn, and the result sums them up (RV(workers)).
  - B(Targeted clear.) With O(token_ids) (or O(request_id)), only that request's chunks in the range O(start) to
    O(end) are deleted, from the tiers O(tier) of one instance (O(instance_id), or the node at O(url)), through the
    node itself (C(DELETE /cache/objects) with the chunk keys the coordinator's directory gives) or through the LMCache
    coordinator (C(/cache/delete)), see O(delete_via). Pinned chunks are skipped unless O(force=true), except by
    O(tier=l1), since pins protect L2 copies only.
    C(changed) comes from the coordinator's placements before and after, never from the servers' counters (they count
    keys submitted, not removed).
  - The coordinator deletes a token sequence from its first chunk. Through it, a targeted clear with O(start) after the
    first chunk is refused when chunks before O(start) are cached on that instance, rather than deleting them too. On the
    node itself, exactly the chunks of the range are deleted.
author:
  - LMCache maintainers (@LMCache)
options:
  force:
    description:
      - Also drop objects that in-flight requests are reading or writing. Their stores or prefetches may be corrupted.
      - With V(false), objects in use stay in L1, and the module warns about what remains.
      - Only LMCache 0.5.6 and later honour V(false). Older servers always force-clear; on them the module clears
        anyway and reports RV(forced=true).
      - In a targeted clear, V(true) also deletes chunks that are pinned or locked.
    type: bool
    default: false
  max_remaining:
    description:
      - Fail when more than this many objects remain in L1 after an instance-wide clear (objects in use by in-flight
        requests with O(force=false), or stored while the clear ran). The clear has happened then, and the result has
        RV(before), RV(after) and C(changed) as without it. Not checked in check mode.
      - Unset, objects that remain only give a warning.
      - Not with a targeted clear (O(token_ids) or O(request_id)).
    type: int
    version_added: 0.2.0
  tier:
    description:
      - Tiers to clear. An instance-wide clear supports only V(l1) (LMCache clears L1 only).
      - A targeted clear deletes the request's chunks from V(l1), V(l2) or V(all) (both).
    type: str
    choices: [l1, l2, all]
    default: l1
  delete_via:
    description:
      - How a targeted clear by token sequence deletes the chunks.
      - V(node) deletes exactly the range's chunk keys on the node itself (C(DELETE /cache/objects), LMCache 0.5.1 and
        later), with this task's API key. The node must be reachable, at O(url) or at the address O(instance_id) registered.
      - V(coordinator) asks the coordinator (C(POST /cache/delete)), which deletes from the first chunk and cannot send
        an API key, so a node started with API keys refuses it (the coordinator answers HTTP 502).
      - V(auto) deletes on the node when the task talks to it (the instance is the one at O(url)) or an API key is set,
        and the node offers the route; otherwise through the coordinator.
    type: str
    choices: [auto, node, coordinator]
    default: auto
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.target
  - lmcache.kvcache.registry
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode no clear is sent; the module reads the server's status and reports what would be cleared.
    support: full
  diff_mode:
    description: Shows L1 object and byte counts before and after; in a targeted clear, each chunk's locations.
    support: full
  idempotent:
    description: A second run finds L1 empty and reports no change.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_server_info
'''

EXAMPLES = r'''
- name: Clear the LMCache L1 cache of this GPU host
  lmcache.kvcache.lmcache_kvcache_clear:
  register: cleared

- name: Show what was freed
  ansible.builtin.debug:
    msg: "{{ cleared.msg }}"

- name: Force a clear even of objects that in-flight requests use, on a server with an API key
  lmcache.kvcache.lmcache_kvcache_clear:
    url: http://127.0.0.1:8080
    api_key: "{{ vault_lmcache_api_key }}"
    force: true

- name: Clear L1 and fail when any object stays in it (in use by an in-flight request)
  lmcache.kvcache.lmcache_kvcache_clear:
    max_remaining: 0

- name: Delete one request's chunks from L1 and L2 of this host only, through the coordinator
  lmcache.kvcache.lmcache_kvcache_clear:
    coordinator_url: http://127.0.0.1:9300
    model_name: meta-llama/Llama-3.1-8B-Instruct
    token_ids: "{{ prompt_token_ids }}"
    tier: all

- name: Delete a request's chunks by request id, on a server with the per-request endpoints
  lmcache.kvcache.lmcache_kvcache_clear:
    request_id: req-abc-123
    tier: l1

- name: See what a clear would free, without clearing (check mode)
  lmcache.kvcache.lmcache_kvcache_clear:
  check_mode: true
  diff: true
  register: would_clear
'''

RETURN = r'''
url:
  description: The node's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8080
status:
  description: HTTP status of the task's last request; V(null) when it got no answer (for example, connection refused).
  returned: always
  type: int
  sample: 200
api_generation:
  description: The node's HTTP API generation, V(G1), V(G2) or V(G3), or V(engine); V(null) if the task failed before finding it out.
  returned: always
  type: str
  sample: G3
version:
  description: The node's version as it reports it; V(null) for G1 servers, which do not report one, or if not read.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
coordinator_url:
  description: In a targeted clear by token sequence, the coordinator's URL, without any credentials.
  returned: when a request was targeted by token sequence
  type: str
  sample: http://127.0.0.1:9300
tier:
  description: The tier(s) cleared, V(l1), V(l2) or V(all).
  returned: success
  type: str
  sample: l1
target:
  description: In a targeted clear, the request as the module addressed it.
  returned: when a request was targeted
  type: str
  sample: the 1025-token sequence of model test-model (chunks 0-3) via the coordinator http://127.0.0.1:9300
instance:
  description: In a targeted clear, the instance cleared (the coordinator's instance id, or the node's URL).
  returned: when a request was targeted
  type: str
  sample: node-a
delete_via:
  description: In a targeted clear, how the chunks were deleted, V(node) or V(coordinator) (see O(delete_via)).
  returned: when a request was targeted
  type: str
  sample: node
chunks_changed:
  description: In a targeted clear, indexes of the chunks removed from at least one tier (in check mode, that would be).
  returned: when a request was targeted
  type: list
  elements: int
  sample: [0, 1]
chunks:
  description: In a targeted clear, the request's chunks in the range on the instance afterwards (in check mode, as they would be).
  returned: when a request was targeted, with O(per_chunk=true)
  type: list
  elements: dict
  sample: [{index: 0, start: 0, end: 256, locations: [L1, L2], placements: [{instance_id: node-a, tier: L1}], pinned: true,
            pin_count: 1, compression: null, size_bytes: 4194304}]
  contains:
    index:
      description: Chunk number in the request, from 0.
      type: int
      sample: 0
    start:
      description: First token of the chunk.
      type: int
      sample: 0
    end:
      description: Token after the last one of the chunk.
      type: int
      sample: 256
    locations:
      description: Tiers of the instance holding the chunk, V(L1) and/or V(L2); empty when it holds none.
      type: list
      elements: str
      sample: [L2]
    placements:
      description: Which instance holds the chunk in which tier.
      type: list
      elements: dict
      sample: [{instance_id: node-a, tier: L2}]
      contains:
        instance_id:
          description: The LMCache instance (node) that holds the chunk.
          type: str
          sample: node-a
        tier:
          description: The tier on that instance, V(L1) or V(L2).
          type: str
          sample: L1
    pinned:
      description: Whether the chunk is pinned.
      type: bool
      sample: false
    pin_count:
      description: How many pins the chunk holds.
      type: int
      sample: 0
    compression:
      description: Compression method of the stored chunk, where the server reports it.
      type: str
      sample: null
    size_bytes:
      description: Stored size of the chunk, where the server reports it.
      type: int
      sample: null
chunk_ranges:
  description:
    - The chunks in the range, consecutive chunks in the same state (tiers, placements, pins, compression) merged into one
      entry; the same information as RV(chunks), in a few entries for a long request.
  returned: when a request was targeted
  type: list
  elements: dict
  sample: [{first: 0, last: 3905, start: 0, end: 999936, locations: [L1, L2], placements: [{instance_id: node-a, tier: L1},
           {instance_id: node-a, tier: L2}], pinned: false, pin_count: 0, compression: null}]
  contains:
    first:
      description: The first chunk of the entry.
      type: int
      sample: 0
    last:
      description: The last chunk of the entry.
      type: int
      sample: 3905
    start:
      description: The first token of the entry.
      type: int
      sample: 0
    end:
      description: The token after the last one of the entry.
      type: int
      sample: 999936
    locations:
      description: Tiers holding these chunks.
      type: list
      elements: str
      sample: [L1, L2]
    placements:
      description: Which instance holds them in which tier, where the coordinator knows it.
      type: list
      elements: dict
      sample: [{instance_id: node-a, tier: L1}]
      contains:
        instance_id:
          description: The LMCache instance (node) that holds the chunk.
          type: str
          sample: node-a
        tier:
          description: The tier on that instance, V(L1) or V(L2).
          type: str
          sample: L1
    pinned:
      description: Whether these chunks are pinned.
      type: bool
      sample: false
    pin_count:
      description: How many pins each of them holds.
      type: int
      sample: 0
    compression:
      description: Their compression method, where the server reports it.
      type: str
      sample: null
total_chunks:
  description: In a targeted clear, chunks in the range.
  returned: when a request was targeted
  type: int
  sample: 2
cached_chunks:
  description: In a targeted clear, chunks in the range the instance still holds in some tier.
  returned: when a request was targeted
  type: int
  sample: 0
cached_tokens:
  description: In a targeted clear, tokens covered by those chunks.
  returned: when a request was targeted
  type: int
  sample: 0
pinned_chunks:
  description: In a targeted clear, chunks in the range that are pinned.
  returned: when a request was targeted
  type: int
  sample: 0
forced:
  description:
    - Whether the clear dropped (or in check mode, would drop) objects in use too. V(true) when O(force=true), and
      always on servers older than 0.5.6, which cannot clear without forcing.
  returned: success, instance-wide
  type: bool
  sample: false
before:
  description: L1 contents just before an instance-wide clear.
  returned: success, instance-wide
  type: dict
  contains:
    objects:
      description: KV objects (chunks) in L1.
      type: int
      sample: 4
    bytes_used:
      description: Bytes of L1 in use.
      type: int
      sample: 16777216
  sample: {objects: 4, bytes_used: 16777216}
after:
  description:
    - L1 contents after an instance-wide clear, as the server reports them; in check mode, what they would be.
    - On a serving node this includes objects stored since the clear.
  returned: success, instance-wide
  type: dict
  contains:
    objects:
      description: KV objects (chunks) in L1.
      type: int
      sample: 0
    bytes_used:
      description: Bytes of L1 in use.
      type: int
      sample: 0
  sample: {objects: 0, bytes_used: 0}
kind:
  description: V(server) for an C(lmcache server) node, V(engine) for the LMCache engine inside vLLM.
  returned: success, instance-wide
  type: str
  sample: server
  version_added: 0.2.0
froze_stores:
  description: Whether the module froze an engine's stores for the clear (in check mode, would); V(false) on a server.
  returned: success, instance-wide
  type: bool
  sample: false
  version_added: 0.2.0
workers:
  description: Given a pod's scheduler, each worker's result, by its URL; RV(before), RV(after) and the counts sum them.
  returned: when O(url) is the scheduler of a vLLM pod
  type: dict
  version_added: 0.2.0
pod:
  description: Given a pod's scheduler, its URL and its workers' URLs.
  returned: when O(url) is the scheduler of a vLLM pod
  type: dict
  version_added: 0.2.0
objects_cleared:
  description:
    - Objects that left L1 in an instance-wide clear, by the server's counts before and after (in check mode, would
      leave), see the description above.
  returned: success, instance-wide
  type: int
  sample: 4
bytes_cleared:
  description: Bytes of L1 freed, by the server's counts before and after (in check mode, would be freed).
  returned: success, instance-wide
  type: int
  sample: 16777216
msg:
  description: What was done, in a sentence; on failure, the method, URL, HTTP status and the server's own error text.
  returned: always
  type: str
  sample: Cleared 4 objects (16.00 MB) from L1 of http://127.0.0.1:8080 (LMCache 0.5.6-g3e11e108, API G3).
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import ClearInstance
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_request import ClearRequest


def main():
    run(ClearInstance, for_request=ClearRequest)


if __name__ == '__main__':
    main()
