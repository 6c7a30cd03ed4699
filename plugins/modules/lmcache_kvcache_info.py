#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_kvcache_info
short_description: Show where each chunk of one request's KV cache lives, and whether it is pinned
version_added: 0.1.0
description:
  - For one request, lists each 256-token chunk of its KV cache in the range O(start) to O(end) with the tiers that
    hold it (L1 CPU memory, L2), which instance holds it where the coordinator knows, whether it is pinned and how
    often, and its compression.
  - Addressed by O(token_ids) through the LMCache coordinator (real LMCache 0.5.3 and later), or by O(request_id) on a
    server that offers the C(lmcache kvcache) design's C(/kvcache-info).
  - A request with nothing cached is a normal answer, with zero cached chunks.
author:
  - LMCache maintainers (@LMCache)
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.target
  - lmcache.kvcache.attributes
  - lmcache.kvcache.attributes.info_module
seealso:
  - module: lmcache.kvcache.lmcache_kvcache_pin
  - module: lmcache.kvcache.lmcache_kvcache_clear
'''

EXAMPLES = r'''
- name: Where does a request's KV cache live? (token sequence, through the coordinator)
  lmcache.kvcache.lmcache_kvcache_info:
    coordinator_url: http://127.0.0.1:9300
    model_name: meta-llama/Llama-3.1-8B-Instruct
    token_ids: "{{ prompt_token_ids }}"
  register: kv

- name: Show the chunks held in L2 only
  ansible.builtin.debug:
    msg: "{{ kv.chunks | selectattr('locations', 'equalto', ['L2']) | map(attribute='start') | list }}"

- name: The first 512 tokens of a request, by request id, on a server with the per-request endpoints
  lmcache.kvcache.lmcache_kvcache_info:
    url: http://127.0.0.1:8080
    request_id: req-abc-123
    start: 0
    end: 512
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
  description:
    - The HTTP API generation of the node at O(url), V(G1), V(G2) or V(G3).
    - V(null) when the task did not contact the node, as for a request addressed by token sequence, which goes through
      the coordinator only.
  returned: always
  type: str
  sample: G3
version:
  description: The version of the node at O(url) as it reports it; V(null) when not contacted, or for G1 servers.
  returned: always
  type: str
  sample: 0.5.6-g3e11e108
coordinator_url:
  description: The coordinator's URL, without any credentials.
  returned: when the request is addressed by token sequence
  type: str
  sample: http://127.0.0.1:9300
target:
  description: The request, as the module addressed it.
  returned: success
  type: str
  sample: the 1025-token sequence of model test-model (chunks 0-3) via the coordinator http://127.0.0.1:9300
chunks:
  description: The request's chunks in the range, in order.
  returned: success, with O(per_chunk=true)
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
      description: Tiers holding the chunk, V(L1) and/or V(L2); empty when it is not cached.
      type: list
      elements: str
      sample: [L1, L2]
    placements:
      description: Which instance holds the chunk in which tier, where the coordinator knows it.
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
      description: How many pins the chunk holds (the coordinator counts pins; each unpin removes one).
      type: int
      sample: 0
    compression:
      description: Compression method of the stored chunk; V(null) when uncompressed or unknown.
      type: str
      sample: zstd
    size_bytes:
      description: Stored size of the chunk where the server reports it, else V(null).
      type: int
      sample: 4194304
chunk_ranges:
  description:
    - The chunks in the range, consecutive chunks in the same state (tiers, placements, pins, compression) merged into one
      entry; the same information as RV(chunks), in a few entries for a long request.
  returned: success
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
  description: Chunks in the range (complete chunks of the request only).
  returned: success
  type: int
  sample: 4
cached_chunks:
  description: Chunks in the range held in some tier.
  returned: success
  type: int
  sample: 4
cached_tokens:
  description: Tokens covered by the cached chunks.
  returned: success
  type: int
  sample: 1024
pinned_chunks:
  description: Chunks in the range that are pinned.
  returned: success
  type: int
  sample: 0
msg:
  description: What was found, in a sentence; on failure, the method, URL, HTTP status and the server's own error text.
  returned: always
  type: str
  sample: 4 of 4 chunks of the 1025-token sequence of model test-model (chunks 0-3) via the coordinator http://127.0.0.1:9300 are cached, 0 pinned.
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_request import Info


def main():
    run(Info)


if __name__ == '__main__':
    main()
