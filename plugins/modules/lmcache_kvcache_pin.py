#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_kvcache_pin
short_description: Pin or unpin one request's KV cache so that it is not evicted
version_added: 0.1.0
description:
  - Pins (O(state=present)) or unpins (O(state=absent)) the chunks of one request's KV cache in the range O(start) to
    O(end), so that eviction leaves them in place.
  - Idempotent. The module reads the current pins first and changes only chunks that are not yet as asked.
    The LMCache coordinator counts pins per chunk (pinning twice needs two unpins), but the module never adds a second
    pin, so a re-run reports no change and leaves the pin counts as they were. O(state=absent) removes every pin of
    the chunks in the range.
  - The coordinator pins and unpins whole prefixes of a token sequence. For a range that starts after the first
    chunk, the module pins up to O(end) and then unpins the chunks before O(start), so chunks outside the range end
    up as they were.
  - By default only cached chunks are pinned. Chunks that are not cached are listed in RV(uncached_chunks); set
    O(include_uncached=true) to pin them anyway, which protects them once they are stored.
  - A pin can be B(rejected). The design's per-request endpoint answers REJECTED under memory pressure. Through the
    coordinator, the module itself refuses to pin while the L1 usage of an instance holding the request's chunks (or of
    the node meant) is at or above O(max_usage). A rejection reports RV(rejected=true) with a RV(reason) and fails the
    task unless O(fail_on_rejected=false), the way the design's C(lmcache kvcache pin) exits with code 2.
  - Coordinator pins protect L2 copies from eviction. A pinned chunk's L1 copy can still be evicted or cleared.
author:
  - LMCache maintainers (@LMCache)
options:
  state:
    description: Whether the chunks in the range should be pinned (V(present)) or not pinned at all (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  include_uncached:
    description: Also pin chunks in the range that are not cached anywhere.
    type: bool
    default: false
  max_usage:
    description:
      - L1 usage ratio (0 to 1) at or above which the module rejects a pin through the coordinator.
      - The default, V(0.8), is LMCache's default L1 eviction watermark. At that usage the server is already evicting,
        and pinning more would only fight the eviction that keeps it serving.
    type: float
    default: 0.8
  fail_on_rejected:
    description: Whether a rejected pin fails the task. With V(false), the task succeeds with RV(rejected=true).
    type: bool
    default: true
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.target
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode nothing is pinned or unpinned; C(changed) and C(chunks_changed) say what would be.
    support: full
  diff_mode:
    description: Shows each chunk's pinned flag and pin count before and after.
    support: full
  idempotent:
    description: A second run with the same options reports no change and leaves pin counts unchanged.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_kvcache_info
'''

EXAMPLES = r'''
- name: Pin a hot system prompt's KV cache fleet-wide (token sequence, through the coordinator)
  lmcache.kvcache.lmcache_kvcache_pin:
    coordinator_url: http://127.0.0.1:9300
    model_name: meta-llama/Llama-3.1-8B-Instruct
    token_ids: "{{ system_prompt_token_ids }}"

- name: Pin only tokens 512 to 1024 of it, leaving the chunks before as they are
  lmcache.kvcache.lmcache_kvcache_pin:
    coordinator_url: http://127.0.0.1:9300
    model_name: meta-llama/Llama-3.1-8B-Instruct
    token_ids: "{{ system_prompt_token_ids }}"
    start: 512
    end: 1024

- name: Pin a request by id on a server with the per-request endpoints; a rejection is reported, not fatal
  lmcache.kvcache.lmcache_kvcache_pin:
    url: http://127.0.0.1:8080
    request_id: req-abc-123
    fail_on_rejected: false
  register: pin

- name: Say why it was rejected
  ansible.builtin.debug:
    msg: "Not pinned: {{ pin.reason }}"
  when: pin.rejected

- name: Unpin it again
  lmcache.kvcache.lmcache_kvcache_pin:
    url: http://127.0.0.1:8080
    request_id: req-abc-123
    state: absent
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
state:
  description: The state asked for.
  returned: always
  type: str
  sample: present
rejected:
  description: Whether the pin was rejected (by the server, or by the admission check against O(max_usage)).
  returned: always
  type: bool
  sample: false
reason:
  description: Why the pin was rejected; V(null) when it was not.
  returned: always
  type: str
  sample: L1 memory pressure (91%) on node-a, at or above max_usage (80%)
chunks_changed:
  description: Indexes of the chunks pinned or unpinned (in check mode, that would be).
  returned: always
  type: list
  elements: int
  sample: [2, 3]
uncached_chunks:
  description: Indexes of the chunks in the range that are not cached anywhere.
  returned: success
  type: list
  elements: int
  sample: []
chunks:
  description: The chunks in the range after the change (in check mode, as they would be); see M(lmcache.kvcache.lmcache_kvcache_info).
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
  description: Chunks in the range that are pinned afterwards.
  returned: success
  type: int
  sample: 4
msg:
  description: What was done, in a sentence.
  returned: always
  type: str
  sample: Pinned 2 chunks (2, 3) of request req-abc-123 on http://127.0.0.1:8080.
'''

from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_request import Pin


def main():
    run(Pin)


if __name__ == '__main__':
    main()
