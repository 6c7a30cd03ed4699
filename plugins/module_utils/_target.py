# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One request's KV cache, addressed by request id or by token sequence, optionally narrowed to [start, end).

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass, field

from ansible.module_utils.basic import env_fallback

CHUNK_TOKENS = 256
MAX_TOKENS = 1000000
# Printable ASCII without spaces, like the ids inference engines hand out ("req-abc-123", "cmpl-8f2...").
REQUEST_ID_PATTERN = re.compile(r'^[\x21-\x7e]{1,256}$')

# Merged into the argument spec of every per-request module; documented in the lmcache.kvcache.target doc fragment.
TARGET_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    request_id=dict(type='str'),
    # Token ids are prompt content, but masking them (no_log) would mask every number in the output.
    token_ids=dict(type='list', elements='int', no_log=False),
    model_name=dict(type='str'),
    world_size=dict(type='int', default=1),
    cache_salt=dict(type='str', default='', no_log=False),
    coordinator_url=dict(type='str', fallback=(env_fallback, ['LMCACHE_COORDINATOR_URL'])),
    instance_id=dict(type='str'),
    start=dict(type='int'),
    end=dict(type='int'),
)
TARGET_MUTUALLY_EXCLUSIVE = [('request_id', 'token_ids')]
TARGET_REQUIRED_ONE_OF = [('request_id', 'token_ids')]
TARGET_REQUIRED_BY = dict(token_ids=('model_name', 'coordinator_url'))


def target_problems(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """Everything wrong with the target options, found before any request is sent."""
    problems = []
    request_id, token_ids = params.get('request_id'), params.get('token_ids')
    if request_id is not None and not REQUEST_ID_PATTERN.match(request_id):
        problems.append('request_id must be 1 to 256 printable characters without spaces, got %r'
                        % (request_id if len(request_id) <= 60 else request_id[:60] + '...'))
    if token_ids is not None:
        if not token_ids:
            problems.append('token_ids must not be empty')
        if len(token_ids) > MAX_TOKENS:
            problems.append('token_ids has %d tokens; LMCache addresses at most %d' % (len(token_ids), MAX_TOKENS))
        negative = [token for token in token_ids if token < 0]
        if negative:
            problems.append('token_ids must be 0 or more; got %s' % ', '.join(str(n) for n in negative[:5]))
    if params.get('world_size') is not None and params['world_size'] < 1:
        problems.append('world_size must be 1 or more, got %d' % params['world_size'])
    if '/' in (params.get('cache_salt') or ''):
        problems.append("cache_salt must not contain '/', got %r" % params['cache_salt'])
    if params.get('model_name') is not None and not params['model_name'].strip():
        problems.append('model_name must not be empty')
    start, end = params.get('start'), params.get('end')
    if start is not None and start < 0:
        problems.append('start must be 0 or more, got %d' % start)
    if end is not None and end < 1:
        problems.append('end must be 1 or more, got %d' % end)
    if start is not None and end is not None and start >= end:
        problems.append('start must be less than end, got start=%d end=%d' % (start, end))
    if token_ids and end is not None and end > len(token_ids):
        problems.append('end=%d is past the end of token_ids (%d tokens)' % (end, len(token_ids)))
    if token_ids and start is not None and start >= len(token_ids):
        problems.append('start=%d is past the end of token_ids (%d tokens)' % (start, len(token_ids)))
    return problems


@dataclass(frozen=True)
class ChunkRange:
    """The chunks a token range [start, end) touches: first .. last, both included."""

    first: int
    last: t.Optional[int]  # None: to the end of the request

    @classmethod
    def of(cls, start: t.Optional[int], end: t.Optional[int], chunk_tokens: int = CHUNK_TOKENS) -> 'ChunkRange':
        first = (start or 0) // chunk_tokens
        last = None if end is None else -(-end // chunk_tokens) - 1
        return cls(first, last)

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and index >= self.first and (self.last is None or index <= self.last)


@dataclass
class Chunk:
    """One chunk of a request's KV cache as the modules report it."""

    index: int
    start: int
    end: int
    # Tiers holding it ('L1', 'L2'), and where the coordinator knows it, which instance holds which.
    locations: t.List[str] = field(default_factory=list)
    placements: t.List[t.Dict[str, str]] = field(default_factory=list)
    pin_count: int = 0
    compression: t.Optional[str] = None
    size_bytes: t.Optional[int] = None

    @property
    def cached(self) -> bool:
        return bool(self.locations)

    @property
    def pinned(self) -> bool:
        return self.pin_count > 0

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(index=self.index, start=self.start, end=self.end, locations=self.locations,
                    placements=self.placements, pinned=self.pinned, pin_count=self.pin_count,
                    compression=self.compression, size_bytes=self.size_bytes)


def chunk_summary(chunks: t.Sequence[Chunk]) -> t.Dict[str, t.Any]:
    """Totals every per-request module reports."""
    cached = [c for c in chunks if c.cached]
    return dict(
        total_chunks=len(chunks),
        cached_chunks=len(cached),
        cached_tokens=sum(c.end - c.start for c in cached),
        pinned_chunks=sum(1 for c in chunks if c.pinned),
    )


def prefix_operations(current: t.Sequence[int], desired: t.Sequence[int]) -> t.List[t.Tuple[str, int]]:
    """How to move per-chunk pin counts from `current` to `desired` with prefix-only, reference-counted pins.

    The coordinator pins and unpins whole prefixes: ('pin', k) adds one to chunks 0 .. k-1, ('unpin', k) takes one
    off them (never below zero). Any change d[i] = desired[i] - current[i] is a sum of such prefix steps with
    multiplicity d[k-1] - d[k] at k; doing every pin before any unpin keeps each count at or above both its start and
    its goal until the unpins bring it down, so the floor at zero never distorts the arithmetic.
    """
    if len(current) != len(desired):
        raise ValueError('current and desired must have the same length')
    delta = [d - c for c, d in zip(current, desired)] + [0]
    pins: t.List[t.Tuple[str, int]] = []
    unpins: t.List[t.Tuple[str, int]] = []
    for k in range(len(current), 0, -1):
        step = delta[k - 1] - delta[k]
        if step > 0:
            pins.extend([('pin', k)] * step)
        elif step < 0:
            unpins.extend([('unpin', k)] * -step)
    return pins + unpins
