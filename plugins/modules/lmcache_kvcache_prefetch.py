#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_kvcache_prefetch
short_description: Warm one request's KV cache from L2 back into L1 on an LMCache node
version_added: 0.1.0
description:
  - Loads the chunks of one request, addressed by token sequence, from the L2 tier of the node at O(url) back into its
    L1 (CPU memory), so the next request with that prefix is served from memory (C(POST /cache/prefetches), LMCache
    0.5.1 and later). Typical after a maintenance clear, for the hot requests.
  - The node resolves the chunk keys from the tokens itself. It needs a serving engine attached for O(model_name)
    (it answers HTTP 503 "no layout registered" otherwise).
  - Idempotent with O(coordinator_url). The module reads from the coordinator's directory which chunks of the range
    this node holds in L1 and L2, submits nothing when every chunk is already in L1 (or in neither tier), and reports
    the chunks warmed. Without a coordinator it cannot know, so it submits, and reports a change when the node's L1
    object count grew while the prefetch ran (the node counts chunks already in L1 as found too).
  - With O(wait=true) the module polls the job until it completes, for at most O(wait_timeout) seconds.
author:
  - LMCache maintainers (@LMCache)
options:
  wait:
    description: Whether to wait for the prefetch to complete. With V(false) the job is submitted and left to run.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the prefetch to complete; more than 0 and at most O(deadline).
    type: float
    default: 60
  prefetch_via:
    description:
      - V(node) submits the prefetch to the node at O(url) (C(POST /cache/prefetches), LMCache 0.5.1 and later).
      - V(coordinator) submits it through the coordinator (LMCache 0.5.7 and later) for the instance O(instance_id), or
        the one registered at O(url); the node need not be reachable from where the task runs.
    type: str
    choices: [node, coordinator]
    default: node
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.target
  - lmcache.kvcache.registry
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode nothing is submitted; with O(coordinator_url), C(changed) says whether a prefetch would run.
    support: full
  diff_mode:
    description: Shows each chunk's tiers on the node before and after (needs O(coordinator_url)).
    support: full
  idempotent:
    description: With O(coordinator_url), a second run finds the chunks in L1 and reports no change.
    support: partial
    details: Without O(coordinator_url), the module cannot read which chunks are in L1 and submits a prefetch every time;
      C(changed) then says whether L1 grew.
seealso:
  - module: lmcache.kvcache.lmcache_kvcache_info
  - module: lmcache.kvcache.lmcache_kvcache_clear
'''

EXAMPLES = r'''
- name: Warm the support bot's system prompt back into L1 after a clear
  lmcache.kvcache.lmcache_kvcache_prefetch:
    coordinator_url: http://127.0.0.1:9300
    model_name: meta-llama/Llama-3.1-8B-Instruct
    token_ids_file: /etc/lmcache/hot/support-bot.tokens.json
  register: warm

- name: Show what was warmed
  ansible.builtin.debug:
    msg: "{{ warm.msg }} (chunks {{ warm.chunks_warmed }})"

- name: Warm it on node gpu-17 through the coordinator (LMCache 0.5.7)
  lmcache.kvcache.lmcache_kvcache_prefetch:
    coordinator_url: http://127.0.0.1:9300
    prefetch_via: coordinator
    instance_id: gpu-17
    model_name: meta-llama/Llama-3.1-8B-Instruct
    token_ids_file: /etc/lmcache/hot/support-bot.tokens.json

- name: Submit a prefetch without waiting, and without a coordinator
  lmcache.kvcache.lmcache_kvcache_prefetch:
    model_name: meta-llama/Llama-3.1-8B-Instruct
    token_ids: "{{ prompt_token_ids }}"
    wait: false
'''

RETURN = r'''
url:
  description: The node's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8080
status:
  description: HTTP status of the task's last request (to the node or the coordinator); V(null) when it got no answer.
  returned: always
  type: int
  sample: 200
api_generation:
  description: The node's HTTP API generation; V(null) if the task failed before finding it out.
  returned: always
  type: str
  sample: G3
version:
  description: The node's version as it reports it; V(null) if not read.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
coordinator_url:
  description: The coordinator's URL, without any credentials.
  returned: when O(coordinator_url) is set
  type: str
  sample: http://127.0.0.1:9300
target:
  description: The request, as the module addressed it.
  returned: success
  type: str
  sample: the 513-token sequence of model test-model (chunks 0-1) via the coordinator http://127.0.0.1:9300
prefetch_id:
  description: The node's id of the prefetch job; V(null) when none was submitted.
  returned: success
  type: str
  sample: 6f1d2c9e-prefetch
prefetch_status:
  description: The job's last status, V(submitted), V(pending), V(completed) or V(noop); V(null) when none was submitted.
  returned: success
  type: str
  sample: completed
found_keys:
  description: Chunk keys the node found in L2 and loaded, when the job completed.
  returned: success
  type: int
  sample: 2
total_keys:
  description: Chunk keys the job looked for, when it completed.
  returned: success
  type: int
  sample: 2
chunks_warmed:
  description: Indexes of the chunks that are in L1 now and were not before (in check mode, that would be); V(null) without O(coordinator_url).
  returned: success
  type: list
  elements: int
  sample: [0, 1]
chunks_not_in_l2:
  description: Indexes of the chunks in the range the node holds in neither tier; V(null) without O(coordinator_url).
  returned: success
  type: list
  elements: int
  sample: []
chunks:
  description: The chunks in the range on this node afterwards, see M(lmcache.kvcache.lmcache_kvcache_info).
  returned: when O(coordinator_url) is set, with O(per_chunk=true)
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
      description: Tiers of this node holding the chunk.
      type: list
      elements: str
      sample: [L1, L2]
    placements:
      description: The node and tier of each copy.
      type: list
      elements: dict
      sample: [{instance_id: node-a, tier: L1}, {instance_id: node-a, tier: L2}]
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
      description: Compression method, where the server reports it.
      type: str
      sample: null
    size_bytes:
      description: Stored size, where the server reports it.
      type: int
      sample: null
chunk_ranges:
  description:
    - The chunks in the range, consecutive chunks in the same state (tiers, placements, pins, compression) merged into one
      entry; the same information as RV(chunks), in a few entries for a long request.
  returned: when O(coordinator_url) is set
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
  description: Chunks in the range.
  returned: when O(coordinator_url) is set
  type: int
  sample: 2
cached_chunks:
  description: Chunks in the range this node holds in some tier.
  returned: when O(coordinator_url) is set
  type: int
  sample: 2
cached_tokens:
  description: Tokens covered by those chunks.
  returned: when O(coordinator_url) is set
  type: int
  sample: 512
pinned_chunks:
  description: Chunks in the range that are pinned.
  returned: when O(coordinator_url) is set
  type: int
  sample: 0
msg:
  description: What was done, in a sentence; on failure, the method, URL, HTTP status and the server's own error text.
  returned: always
  type: str
  sample: Prefetched 2 of 2 keys of the 513-token sequence of model test-model (chunks 0-1) from L2 into L1 on http://127.0.0.1:8080.
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_request import Prefetch


def main():
    run(Prefetch)


if __name__ == '__main__':
    main()
