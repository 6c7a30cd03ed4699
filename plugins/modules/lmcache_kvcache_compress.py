#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_kvcache_compress
short_description: Compress one request's KV cache in place
version_added: 0.1.0
description:
  - Compresses the cached chunks of one request in the range O(start) to O(end) with O(method), to reduce their memory
    footprint. This is the C(lmcache kvcache compress) command of LMCache's design.
  - Reports a change only for chunks that were not already compressed with O(method).
  - Needs a server that offers the design's C(POST /compress), addressed by O(request_id). No LMCache release
    compresses KV cache on demand (0.5.x only applies configured L2 serializers). Against such a server the module
    fails with a message that names the server, its version and API generation, and what is missing.
author:
  - LMCache maintainers (@LMCache)
options:
  method:
    description:
      - Compression method. The server decides which it supports and refuses the others with its own message.
    type: str
    required: true
    choices: [zstd, lz4, fp8, cachegen]
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.target
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode nothing is compressed; C(changed) and C(chunks_changed) say what would be.
    support: full
  diff_mode:
    description: Shows each chunk's compression and stored size before and after.
    support: full
  idempotent:
    description: A second run finds the chunks compressed with O(method) and reports no change.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_kvcache_info
'''

EXAMPLES = r'''
- name: Compress a request's KV cache with zstd
  lmcache.kvcache.lmcache_kvcache_compress:
    url: http://127.0.0.1:8080
    request_id: req-abc-123
    method: zstd

- name: Compress only its first 512 tokens
  lmcache.kvcache.lmcache_kvcache_compress:
    request_id: req-abc-123
    method: zstd
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
  sample: request req-abc-123 on http://127.0.0.1:8080
method:
  description: The compression method asked for.
  returned: success
  type: str
  sample: zstd
chunks_changed:
  description: Indexes of the chunks compressed (in check mode, that would be).
  returned: success
  type: list
  elements: int
  sample: [0, 1, 2, 3]
bytes_before:
  description: Stored bytes of the cached chunks in the range before, where the server reports sizes.
  returned: success
  type: int
  sample: 16777216
bytes_after:
  description:
    - Stored bytes of the cached chunks in the range after.
    - In check mode, the same as RV(bytes_before), since sizes after compression are not known in advance.
  returned: success
  type: int
  sample: 4194304
chunks:
  description: The chunks in the range after compressing; see M(lmcache.kvcache.lmcache_kvcache_info).
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
      sample: true
    pin_count:
      description: How many pins the chunk holds (the coordinator counts pins; each unpin removes one).
      type: int
      sample: 1
    compression:
      description: Compression method of the stored chunk; V(null) when uncompressed or unknown.
      type: str
      sample: null
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
  description: Chunks in the range.
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
  description: What was done, in a sentence.
  returned: always
  type: str
  sample: Compressed 4 chunks of request req-abc-123 on http://127.0.0.1:8080 with zstd (16.00 MB -> 4.00 MB).
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_request import Compress


def main():
    run(Compress)


if __name__ == '__main__':
    main()
