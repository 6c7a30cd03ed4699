# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""One request's KV cache, addressed by request id or by token sequence, optionally narrowed to [start, end).

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import json
import os
import re
import typing as t

from ansible.module_utils.basic import env_fallback

CHUNK_TOKENS = 256
MAX_TOKENS = 1000000
# Token ids are vocabulary indices; engines hold them as 32-bit integers.
MAX_TOKEN_ID = 2 ** 31 - 1
# A token file larger than this is not a token file (1,000,000 ids as text are about 8 MB).
MAX_TOKEN_FILE_BYTES = 64 * 1024 * 1024
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

    def __init__(self, request_id: t.Optional[str] = None, token_ids: t.Optional[t.Union[t.List[int], 'TokenSequence']] = None,
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


class TokenFileError(ValueError):
    pass


# A token file is checked with str methods, which run in C: whitespace becomes a comma, and with every digit seen as
# a 9, what is left must be nines and commas, no run of 11 nines, and each run of 10 at most MAX_TOKEN_ID.
_TO_COMMAS = dict((ord(c), ',') for c in ' \t\r\n\f\v')
_DIGITS_AS_NINES = dict((ord(c), '9') for c in '012345678')


def _token_list_problem(body: str) -> t.Optional[str]:
    """What is wrong with a comma-separated list of token ids, if anything."""
    shape = body.translate(_DIGITS_AS_NINES)
    if not body or shape.count('9') + shape.count(',') != len(shape) or ',,' in shape or '9' * 11 in shape:
        return 'expected integers from 0 to %d only' % MAX_TOKEN_ID
    framed, too_large, start = ',%s,' % shape, [], 0
    while True:
        start = framed.find(',%s,' % ('9' * 10), start)
        if start < 0:
            break
        if int(body[start:start + 10]) > MAX_TOKEN_ID:
            too_large.append(body[start:start + 10])
        start += 11
    if too_large:
        return 'token ids are vocabulary indices from 0 to %d; got %s' % (MAX_TOKEN_ID, ', '.join(too_large[:5]))
    return None


class TokenSequence:
    """Token ids read from a file, kept as their JSON text: a million of them cost 7 MB instead of 36 as Python
    integers, and the text is sent as it is. Validated with str methods, which run in C (_token_list_problem)."""

    def __init__(self, json_text: str) -> None:
        self.json_text = json_text
        self.count = json_text.count(',') + 1
        self._values: t.Optional[t.List[int]] = None

    @classmethod
    def parse(cls, text: str) -> 'TokenSequence':
        body = text.strip()
        if body.startswith('[') and body.endswith(']'):
            body = body[1:-1]
        body = body.replace(', ', ',').translate(_TO_COMMAS)
        while ',,' in body:
            body = body.replace(',,', ',')
        body = body.strip(',')
        problem = _token_list_problem(body)
        if problem:
            raise ValueError(problem)
        return cls('[%s]' % body)

    @property
    def values(self) -> t.List[int]:
        if self._values is None:
            self._values = json.loads(self.json_text)
        return self._values

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: t.Any) -> t.Any:
        return self.values[index]

    def __iter__(self) -> t.Iterator[int]:
        return iter(self.values)

    def prefix_json(self, count: int) -> str:
        """The first `count` tokens as a JSON list; the whole text when that is all of them."""
        return self.json_text if count >= self.count else json.dumps(self.values[:count], separators=(',', ':'))


def tokens_json(tokens: t.Union[t.List[int], TokenSequence], count: int) -> str:
    """The first `count` tokens as a JSON list."""
    if isinstance(tokens, TokenSequence):
        return tokens.prefix_json(count)
    return json.dumps(tokens[:count], separators=(',', ':'))


def read_token_file(path: str) -> TokenSequence:
    """Token ids from a file on the host running the task: a JSON list, or integers separated by spaces, commas or lines."""
    try:
        size = os.path.getsize(path)
        if size > MAX_TOKEN_FILE_BYTES:
            raise TokenFileError('token_ids_file %s is %d bytes, more than a token file can be (%d)' % (path, size, MAX_TOKEN_FILE_BYTES))
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError('token_ids_file %s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
    try:
        tokens = TokenSequence.parse(text)
    except ValueError as exc:
        raise TokenFileError('token_ids_file %s does not hold token ids (a JSON list of integers, or integers separated '
                             'by spaces, commas or lines): %s' % (path, str(exc)[:160]))
    # Named after the file, not after token_ids, which the task did not set.
    if len(tokens) > MAX_TOKENS:
        raise TokenFileError('token_ids_file %s has %d tokens; LMCache addresses at most %d' % (path, len(tokens), MAX_TOKENS))
    return tokens


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


class Chunk:
    """One chunk of a request's KV cache as the modules report it."""

    def __init__(self, index: int, start: int, end: int, locations: t.Optional[t.List[str]] = None,
                 placements: t.Optional[t.List[t.Dict[str, t.Any]]] = None, pin_count: int = 0,
                 compression: t.Optional[str] = None, size_bytes: t.Optional[int] = None,
                 keys: t.Optional[t.List[t.Dict[str, t.Any]]] = None) -> None:
        self.index = index
        self.start = start
        self.end = end
        # Tiers holding it ('L1', 'L2'), and where the coordinator knows it, which instance holds which.
        self.locations = locations or []
        self.placements = placements or []
        self.pin_count = pin_count
        self.compression = compression
        self.size_bytes = size_bytes
        # The coordinator's object keys of the chunk, one per rank (for node-direct deletes); not reported.
        self.keys = keys or []

    @property
    def cached(self) -> bool:
        return bool(self.locations)

    @property
    def pinned(self) -> bool:
        return self.pin_count > 0

    def copy(self, **changes: t.Any) -> 'Chunk':
        fields = dict(index=self.index, start=self.start, end=self.end, locations=list(self.locations),
                      placements=[dict(p) for p in self.placements], pin_count=self.pin_count,
                      compression=self.compression, size_bytes=self.size_bytes, keys=self.keys)
        fields.update(changes)
        return Chunk(**fields)

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


def chunk_ranges(chunks: t.Sequence[Chunk]) -> t.List[t.Dict[str, t.Any]]:
    """Consecutive chunks in the same state, as one range each: a 1,000,000-token request in a few lines."""
    ranges: t.List[t.Dict[str, t.Any]] = []
    for chunk in chunks:
        state = dict(locations=chunk.locations, placements=chunk.placements, pinned=chunk.pinned,
                     pin_count=chunk.pin_count, compression=chunk.compression)
        if ranges and ranges[-1]['last'] == chunk.index - 1 and all(ranges[-1][k] == v for k, v in state.items()):
            ranges[-1].update(last=chunk.index, end=chunk.end)
        else:
            ranges.append(dict(first=chunk.index, last=chunk.index, start=chunk.start, end=chunk.end, **state))
    return ranges


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
