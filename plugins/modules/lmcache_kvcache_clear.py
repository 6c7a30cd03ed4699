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
    The task reports a change only when L1 held objects before; clearing an empty cache sends no clear at all.
  - L2 data (for example an C(fs) adapter's files) is not touched by an instance-wide clear.
  - B(Targeted clear.) With O(token_ids) (or O(request_id)), only that request's chunks in the range O(start) to
    O(end) are deleted, from the tiers O(tier) of one instance (O(instance_id), or the node at O(url)), through the
    LMCache coordinator's C(/cache/delete). Chunks pinned in L2 are skipped unless O(force=true).
    C(changed) comes from the coordinator's placements before and after, never from its counters (they count keys
    submitted, not removed).
  - The coordinator deletes a token sequence from its first chunk. A targeted clear with O(start) after the first chunk
    is refused when chunks before O(start) are cached on that instance, rather than deleting them too.
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
  tier:
    description:
      - Tiers to clear. An instance-wide clear supports only V(l1) (LMCache clears L1 only).
      - A targeted clear deletes the request's chunks from V(l1), V(l2) or V(all) (both).
    type: str
    choices: [l1, l2, all]
    default: l1
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.target
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
- name: Clear the LMCache L1 cache on every GPU host, one host at a time
  hosts: gpu
  serial: 1
  tasks:
    - name: Clear L1
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
  description: The server's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8080
status:
  description: HTTP status of the last answer from the server.
  returned: always
  type: int
  sample: 200
api_generation:
  description: The server's HTTP API generation, V(G1), V(G2) or V(G3).
  returned: success
  type: str
  sample: G3
version:
  description: The server's version as it reports it; V(null) for G1 servers, which do not report one.
  returned: success
  type: str
  sample: 0.5.6-g3e11e108
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
chunks_changed:
  description: In a targeted clear, indexes of the chunks removed from at least one tier (in check mode, that would be).
  returned: when a request was targeted
  type: list
  elements: int
  sample: [0, 1]
chunks:
  description: In a targeted clear, the request's chunks on the instance afterwards; see M(lmcache.kvcache.lmcache_kvcache_info).
  returned: when a request was targeted
  type: list
  elements: dict
forced:
  description:
    - Whether the clear dropped (or in check mode, would drop) objects in use too. V(true) when O(force=true), and
      always on servers older than 0.5.6, which cannot clear without forcing.
  returned: success, instance-wide
  type: bool
  sample: false
before:
  description: L1 contents before an instance-wide clear.
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
after:
  description: L1 contents after an instance-wide clear, as the server reports them; in check mode, what they would be.
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
objects_cleared:
  description: Objects removed from L1 by an instance-wide clear (in check mode, that would be removed).
  returned: success, instance-wide
  type: int
  sample: 4
bytes_cleared:
  description: Bytes of L1 freed by an instance-wide clear (in check mode, that would be freed).
  returned: success, instance-wide
  type: int
  sample: 16777216
msg:
  description: What was done, in a sentence.
  returned: always
  type: str
  sample: Cleared 4 objects (16.00 MB) from L1 of http://127.0.0.1:8080 (LMCache 0.5.6-g3e11e108, API G3).
'''

import copy

from ansible.module_utils.common.text.formatters import bytes_to_human

from ansible_collections.lmcache.kvcache.plugins.module_utils._kvcache import (
    TIERS,
    chunk_diff,
    chunk_report,
    open_request_cache,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run_module


def _counts(usage):
    return dict(objects=usage.objects, bytes_used=usage.bytes_used)


def run(module, server):
    if module.params['request_id'] is not None or module.params['token_ids'] is not None:
        return run_targeted(module, server)
    if module.params['tier'] != 'l1':
        module.fail_json(msg='an instance-wide clear supports only tier=l1 (LMCache clears L1 only); '
                             'tier=%s needs a targeted clear (token_ids or request_id)' % module.params['tier'])
    return run_instance_wide(module, server)


def run_targeted(module, server):
    tier, force = module.params['tier'], module.params['force']
    tiers = TIERS[tier]
    cache = open_request_cache(module, server)
    cache.require('kvcache_clear')
    instance = cache.scope()
    before = cache.read()
    held = [c for c in before if set(c.locations) & set(tiers)]
    if held:
        cache.check_prefix_clear(tiers)
    if held and not module.check_mode:
        cache.clear(tier, force)
        after = cache.read_settled(lambda chunks: not any(set(c.locations) & set(tiers) for c in chunks))
    else:
        after = copy.deepcopy(before)
        for chunk in after:
            chunk.locations = [location for location in chunk.locations if location not in tiers]
            chunk.placements = [p for p in chunk.placements if p['tier'] not in tiers]
    after_locations = dict((c.index, set(c.locations)) for c in after)
    removed = [c.index for c in before if set(c.locations) - after_locations.get(c.index, set())]
    remaining = [a.index for a in after if set(a.locations) & set(tiers)]
    if remaining and not module.check_mode:
        module.warn('chunks %s of %s are still in %s on %s (pinned or in use; force=true deletes them too)'
                    % (', '.join(map(str, remaining)), cache.description, '/'.join(tiers), instance))
    result = dict(chunk_report(cache, after), url=server.url, tier=tier, instance=instance, changed=bool(removed),
                  chunks_changed=removed)
    if removed:
        result['msg'] = '%s %d chunks (%s) of %s from %s on %s.' % (
            'Would delete' if module.check_mode else 'Deleted', len(removed), ', '.join(map(str, removed)),
            cache.description, '/'.join(tiers), instance)
    else:
        result['msg'] = 'Nothing to delete: no chunk of %s is in %s on %s.' % (cache.description, '/'.join(tiers), instance)
    if module._diff:
        result['diff'] = chunk_diff(before, after, ('locations',))
    return result


def run_instance_wide(module, server):
    force = module.params['force']
    before = server.status().l1
    forced = force or not server.force_honoured
    if module.check_mode or before.objects == 0:
        after = dict(objects=0, bytes_used=0) if before.objects else _counts(before)
    else:
        server.clear_l1(force)
        after = _counts(server.status().l1)
        if after['objects']:
            module.warn('%d object(s) still in L1 after the clear (in use by in-flight requests, or stored since)%s'
                        % (after['objects'], '' if forced else '; force=true drops objects in use too'))
    objects_cleared = max(0, before.objects - after['objects'])
    bytes_cleared = max(0, before.bytes_used - after['bytes_used'])
    where = 'L1 of %s (LMCache %s, API %s)' % (server.url, server.version or server.generation.releases, server.generation.name)
    if not before.objects:
        msg = '%s is already empty.' % where
    else:
        msg = '%s %d objects (%s) from %s.' % ('Would clear' if module.check_mode else 'Cleared', objects_cleared,
                                               bytes_to_human(bytes_cleared), where)
    if before.objects and forced and not force:
        msg += ' This server always force-clears: objects in use by in-flight requests are dropped too.'
    result = dict(
        server.facts(),
        changed=objects_cleared > 0,
        tier='l1',
        forced=forced,
        before=_counts(before),
        after=after,
        objects_cleared=objects_cleared,
        bytes_cleared=bytes_cleared,
        msg=msg,
    )
    if module._diff:
        result['diff'] = dict(before=dict(l1=_counts(before)), after=dict(l1=after))
    return result


def main():
    run_module(
        dict(
            force=dict(type='bool', default=False),
            tier=dict(type='str', default='l1', choices=['l1', 'l2', 'all']),
        ),
        run, supports_check_mode=True, target='optional')


if __name__ == '__main__':
    main()
