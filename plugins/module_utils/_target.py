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

from ansible.module_utils.basic import env_fallback

from ansible_collections.lmcache.kvcache.plugins.module_utils._tokens import MAX_TOKEN_ID, MAX_TOKENS, TokenSequence, read_token_file

CHUNK_TOKENS = 256
# Printable ASCII without spaces, like the ids inference engines hand out ("req-abc-123", "cmpl-8f2...").
REQUEST_ID_PATTERN = re.compile(r'^[\x21-\x7e]{1,256}$')

# Merged into the argument spec of every per-request module; documented in the lmcache.kvcache.target doc fragment.
TARGET_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    request_id=dict(type='str'),
    # Token ids are prompt content, but masking them (no_log) would mask every number in the output.
    token_ids=dict(type='list', elements='int', no_log=False),
    token_ids_file=dict(type='path'),
    model_name=dict(type='str'),
    world_size=dict(type='int', default=1),
    cache_salt=dict(type='str', default='', no_log=False),
    coordinator_url=dict(type='str', fallback=(env_fallback, ['LMCACHE_COORDINATOR_URL'])),
    instance_id=dict(type='str'),
    start=dict(type='int'),
    end=dict(type='int'),
    per_chunk=dict(type='bool', default=True),
)
TARGET_MUTUALLY_EXCLUSIVE = [('request_id', 'token_ids', 'token_ids_file')]
TARGET_REQUIRED_ONE_OF = [('request_id', 'token_ids', 'token_ids_file')]
TARGET_REQUIRED_BY = dict(token_ids=('model_name',), token_ids_file=('model_name',))


class Target:
    """Which request, and which part of it, an operation acts on."""

    def __init__(self, request_id: t.Optional[str] = None, token_ids: t.Optional[t.Union[t.List[int], TokenSequence]] = None,
                 model_name: t.Optional[str] = None, world_size: int = 1, cache_salt: str = '',
                 coordinator_url: t.Optional[str] = None, instance_id: t.Optional[str] = None,
                 start: t.Optional[int] = None, end: t.Optional[int] = None) -> None:
        self.request_id = request_id
        self.token_ids = token_ids
        self.model_name = model_name
        self.world_size = world_size
        self.cache_salt = cache_salt
        self.coordinator_url = coordinator_url
        self.instance_id = instance_id
        self.start = start
        self.end = end

    @classmethod
    def from_params(cls, params: t.Mapping[str, t.Any]) -> t.Optional['Target']:
        """The target the options name (token_ids_file read here), or None when they name none."""
        token_ids = params.get('token_ids')
        if params.get('token_ids_file'):
            token_ids = read_token_file(params['token_ids_file'])
        if params.get('request_id') is None and token_ids is None:
            return None
        return cls(request_id=params.get('request_id'), token_ids=token_ids, model_name=params.get('model_name'),
                   world_size=1 if params.get('world_size') is None else params['world_size'],
                   cache_salt=params.get('cache_salt') or '',
                   coordinator_url=params.get('coordinator_url'), instance_id=params.get('instance_id'),
                   start=params.get('start'), end=params.get('end'))

    @property
    def by_tokens(self) -> bool:
        return self.token_ids is not None

    @property
    def range(self) -> 'ChunkRange':
        return ChunkRange.of(self.start, self.end)

    def problems(self) -> t.List[str]:
        """Everything wrong with the target, found before any request is sent."""
        problems = []
        if self.request_id is not None and not REQUEST_ID_PATTERN.match(self.request_id):
            problems.append('request_id must be 1 to 256 printable characters without spaces, got %r'
                            % (self.request_id if len(self.request_id) <= 60 else self.request_id[:60] + '...'))
        token_ids = self.token_ids
        if token_ids is not None:
            if not token_ids:
                problems.append('token_ids must not be empty')
            if len(token_ids) > MAX_TOKENS:
                problems.append('token_ids has %d tokens; LMCache addresses at most %d' % (len(token_ids), MAX_TOKENS))
            # min() and max() run in C: a million tokens are checked in milliseconds (a token file is checked when read).
            bad = [token for token in token_ids if not 0 <= token <= MAX_TOKEN_ID] \
                if isinstance(token_ids, list) and token_ids and (min(token_ids) < 0 or max(token_ids) > MAX_TOKEN_ID) else []
            if bad:
                problems.append('token_ids must be vocabulary indices from 0 to %d; got %s'
                                % (MAX_TOKEN_ID, ', '.join(str(n) for n in bad[:5])))
            if not self.model_name or not self.model_name.strip():
                problems.append('model_name must not be empty')
        if self.world_size < 1 or self.world_size > 4096:
            problems.append('world_size must be from 1 to 4096, got %d' % self.world_size)
        if '/' in self.cache_salt:
            problems.append("cache_salt must not contain '/', got %r" % self.cache_salt)
        start, end = self.start, self.end
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


class ChunkRange:
    """The chunks a token range [start, end) touches: first .. last, both included."""

    def __init__(self, first: int, last: t.Optional[int]) -> None:
        self.first = first
        self.last = last  # None: to the end of the request

    @classmethod
    def of(cls, start: t.Optional[int], end: t.Optional[int], chunk_tokens: int = CHUNK_TOKENS) -> 'ChunkRange':
        first = (start or 0) // chunk_tokens
        last = None if end is None else -(-end // chunk_tokens) - 1
        return cls(first, last)

    def __contains__(self, index: object) -> bool:
        return isinstance(index, int) and index >= self.first and (self.last is None or index <= self.last)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChunkRange) and (self.first, self.last) == (other.first, other.last)

    def __repr__(self) -> str:
        return 'ChunkRange(%r, %r)' % (self.first, self.last)
