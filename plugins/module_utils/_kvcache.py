# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Per-request operations (info, pin, clear, compress) on one request's KV cache, through two backends:

- TokenSequenceCache: real LMCache today. The coordinator resolves a token sequence to chunk keys
  (/directory/lookup), pins them fleet-wide (/cache/pins, prefix-only, reference-counted) and deletes them on one
  instance (/cache/delete, prefix-only).
- RequestIdCache: the `lmcache kvcache` design's per-request endpoints on the node (/kvcache-info, /pin,
  /compress, /kvcache-clear), used when the server advertises them. See docs/per-request-api.md.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import socket
import time
import typing as t
from urllib.parse import urlencode, urlsplit

from ansible_collections.lmcache.kvcache.plugins.module_utils._api import CAPABILITY_ROUTES, LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient, LMCacheError
from ansible_collections.lmcache.kvcache.plugins.module_utils._module import client_for
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import (
    CHUNK_TOKENS,
    Chunk,
    chunk_summary,
    ChunkRange,
    prefix_operations,
)

TIERS = {'l1': ('L1',), 'l2': ('L2',), 'all': ('L1', 'L2')}
PINS_PAGE = 1000
# The directory learns of deletes through node events: how long to wait for it to settle before reporting.
DIRECTORY_SETTLE_SECONDS = 5.0


class Rejected(Exception):
    """The server (or the admission check) refused the operation; its own outcome, not an error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenSequenceCache:
    """A request addressed by its token sequence, through the LMCache coordinator."""

    def __init__(self, coordinator: LMCacheClient, node: LMCacheServer, params: t.Mapping[str, t.Any]) -> None:
        self.coordinator = coordinator
        self.node = node
        self.token_ids: t.List[int] = params['token_ids']
        self.model_name: str = params['model_name']
        self.world_size: int = params['world_size']
        self.cache_salt: str = params['cache_salt']
        self.wanted_instance: t.Optional[str] = params['instance_id']
        # Reads report placements on this instance only (None: every instance).
        self.scoped_instance: t.Optional[str] = self.wanted_instance
        self.range = ChunkRange.of(params['start'], params['end'])
        complete = len(self.token_ids) // CHUNK_TOKENS
        self.last = complete - 1 if self.range.last is None else min(self.range.last, complete - 1)
        self._instances: t.Optional[t.List[t.Dict[str, t.Any]]] = None

    @property
    def description(self) -> str:
        return 'the %d-token sequence of model %s (chunks %d-%d) via the coordinator %s' % (
            len(self.token_ids), self.model_name, self.range.first, max(self.range.first, self.last),
            self.coordinator.display_url)

    def _body(self, chunks: int) -> t.Dict[str, t.Any]:
        """The coordinator's request body for the prefix of `chunks` whole chunks."""
        return dict(token_ids=self.token_ids[:chunks * CHUNK_TOKENS], model_name=self.model_name,
                    world_size=self.world_size, cache_salt=self.cache_salt)

    # -- instances ---------------------------------------------------------------------------------------------

    def instances(self) -> t.List[t.Dict[str, t.Any]]:
        if self._instances is None:
            body = self.coordinator.request('GET', '/instances').json_object()
            self._instances = [i for i in body.get('instances', []) if isinstance(i, dict)]
        return self._instances

    def instance_id(self, required: bool) -> t.Optional[str]:
        """The instance meant: instance_id if given, else the one registered at the node's url."""
        known = sorted(str(i.get('instance_id')) for i in self.instances())
        if self.wanted_instance is not None:
            if self.wanted_instance not in known:
                raise LMCacheError('instance_id %r is not registered with the coordinator %s; registered: %s'
                                   % (self.wanted_instance, self.coordinator.display_url, ', '.join(known) or 'none'))
            return self.wanted_instance
        node = urlsplit(self.node.client.base_url)
        addresses = {node.hostname}
        try:
            addresses.add(socket.gethostbyname(node.hostname or ''))
        except (OSError, UnicodeError):
            pass
        port = node.port or (443 if node.scheme == 'https' else 80)
        for instance in self.instances():
            if instance.get('ip') in addresses and instance.get('http_port') == port:
                return instance.get('instance_id')
        if required:
            raise LMCacheError('no instance registered with the coordinator %s serves %s; registered: %s. '
                               'Set instance_id, or url to the node meant.'
                               % (self.coordinator.display_url, self.node.url,
                                  ', '.join('%s (%s:%s)' % (i.get('instance_id'), i.get('ip'), i.get('http_port'))
                                            for i in self.instances()) or 'none'))
        return None

    def scope(self) -> str:
        """Narrow reads and clears to one instance: instance_id, or the node at url."""
        self.scoped_instance = self.instance_id(required=True)
        return self.scoped_instance

    def require(self, capability: str) -> None:
        if capability == 'compress':
            raise LMCacheError(
                '%s (LMCache %s, API %s) cannot compress a request addressed by token sequence: no LMCache release '
                'compresses KV cache on demand, and the coordinator %s has no compress route. Servers that offer the '
                "`lmcache kvcache` design's POST /compress take a request_id instead."
                % (self.node.url, self.node.version or self.node.generation.releases, self.node.generation.name,
                   self.coordinator.display_url))

    def check_prefix_clear(self, tiers: t.Sequence[str]) -> None:
        """The coordinator deletes whole prefixes: refuse when that would remove chunks before the range."""
        if self.range.first == 0:
            return
        before = [c for c in self.read(first=0) if c.index < self.range.first and set(c.locations) & set(tiers)]
        if before:
            raise LMCacheError(
                'the coordinator deletes a token sequence from its first chunk, so clearing chunks %d-%d on %s would '
                'also delete chunks %s, which are before start and cached there (%s). Clear from start=0, or leave '
                'start unset.' % (self.range.first, self.last, self.scoped_instance,
                                  ', '.join(str(c.index) for c in before), '/'.join(sorted(tiers))))

    # -- reading -----------------------------------------------------------------------------------------------

    def _pin_counts(self) -> t.Dict[t.Tuple[t.Any, ...], int]:
        counts: t.Dict[t.Tuple[t.Any, ...], int] = {}
        offset = 0
        while True:
            query = urlencode(dict(model_name=self.model_name, cache_salt=self.cache_salt, offset=offset, limit=PINS_PAGE))
            body = self.coordinator.request('GET', '/cache/pins?' + query).json_object()
            page = [p for p in body.get('pins', []) if isinstance(p, dict)]
            for pin in page:
                counts[_key_id(pin.get('key'))] = int(pin.get('pin_count') or 0)
            offset += len(page)
            if not page or offset >= int(body.get('total') or 0):
                return counts

    def read(self, first: t.Optional[int] = None) -> t.List[Chunk]:
        """The selected chunks (or all from chunk `first`) with placements and pin counts, from the coordinator.

        Placements are those of the scoped instance only, once scope() has been called.
        """
        first = self.range.first if first is None else first
        if self.last < first:
            return []
        reply = self.coordinator.request('POST', '/directory/lookup', json_body=self._body(self.last + 1)).json_object()
        pins = self._pin_counts()
        instance = self.scoped_instance
        chunks = []
        results = [r for r in reply.get('results', []) if isinstance(r, dict)]
        for index in range(first, self.last + 1):
            # Results are chunk-major, one key per rank.
            ranks = results[index * self.world_size:(index + 1) * self.world_size]
            placements = sorted({(p.get('instance_id'), str(p.get('tier')).upper())
                                 for r in ranks for p in r.get('placements', [])
                                 if isinstance(p, dict) and (instance is None or p.get('instance_id') == instance)})
            chunks.append(Chunk(
                index=index, start=index * CHUNK_TOKENS, end=(index + 1) * CHUNK_TOKENS,
                locations=sorted({tier for _instance, tier in placements}),
                placements=[dict(instance_id=i, tier=tier) for i, tier in placements],
                pin_count=min((pins.get(_key_id(r.get('key')), 0) for r in ranks), default=0),
            ))
        return chunks

    # -- pins --------------------------------------------------------------------------------------------------

    def set_pin_counts(self, chunks: t.Sequence[Chunk], desired: t.Mapping[int, int]) -> None:
        """Move the pin counts of `chunks` to `desired` (index -> count); chunks before them are left as they are."""
        prefix = self.last + 1
        current = [0] * prefix
        for chunk in chunks:
            current[chunk.index] = chunk.pin_count
        goal = list(current)
        for index, count in desired.items():
            goal[index] = count
        # Chunks before the range are not read: their counts are unknown, and the plan leaves them unchanged.
        for operation, length in prefix_operations(current, goal):
            method = 'POST' if operation == 'pin' else 'DELETE'
            self.coordinator.request(method, '/cache/pins', json_body=self._body(length))

    def admission(self, chunks: t.Sequence[Chunk], max_usage: float) -> None:
        """Refuse to pin while an instance holding the request's chunks is under L1 memory pressure."""
        holders = {p['instance_id'] for c in chunks for p in c.placements}
        target = self.instance_id(required=False)
        if target:
            holders.add(target)
        usage = self.coordinator.request('GET', '/instances/usage').json_object()
        for instance in usage.get('instances', []):
            if not isinstance(instance, dict) or instance.get('instance_id') not in holders:
                continue
            for module in instance.get('modules', []):
                ratio = module.get('usage_ratio') if isinstance(module, dict) else None
                if module.get('tier') == 'l1' and isinstance(ratio, (int, float)) and ratio >= max_usage:
                    raise Rejected('L1 memory pressure (%d%%) on %s, at or above max_usage (%d%%)'
                                   % (round(ratio * 100), instance['instance_id'], round(max_usage * 100)))

    # -- clear -------------------------------------------------------------------------------------------------

    def clear(self, tier: str, force: bool) -> None:
        self.coordinator.request('POST', '/cache/delete', json_body=dict(
            self._body(self.last + 1), instance_id=self.scope(), tier=tier, force=force))

    def read_settled(self, expect_gone: t.Callable[[t.List[Chunk]], bool]) -> t.List[Chunk]:
        """Read until `expect_gone` holds or the directory has had time to learn of the change."""
        deadline = time.monotonic() + DIRECTORY_SETTLE_SECONDS
        while True:
            chunks = self.read()
            if expect_gone(chunks) or time.monotonic() >= deadline:
                return chunks
            time.sleep(0.5)

    def compress(self, method: str) -> None:
        self.require('compress')


def _key_id(key: t.Any) -> t.Tuple[t.Any, ...]:
    key = key if isinstance(key, dict) else {}
    return (key.get('chunk_hash_hex'), key.get('kv_rank'), key.get('object_group_id'), key.get('model_name'),
            key.get('cache_salt'))


class RequestIdCache:
    """A request addressed by request id, through the design's per-request endpoints on the node."""

    def __init__(self, node: LMCacheServer, params: t.Mapping[str, t.Any]) -> None:
        self.node = node
        self.request_id: str = params['request_id']
        self.start: t.Optional[int] = params['start']
        self.end: t.Optional[int] = params['end']

    @property
    def description(self) -> str:
        return 'request %s on %s' % (self.request_id, self.node.url)

    def route(self, capability: str) -> str:
        path = self.node.discovery.route(capability)
        if path:
            return path
        raise LMCacheError(
            '%s (LMCache %s, API %s) has no per-request endpoint %s: no LMCache release offers the `lmcache kvcache` '
            "design's request-id API yet (see docs/per-request-api.md). Address the request by token_ids and "
            'model_name through the coordinator instead.'
            % (self.node.url, self.node.version or self.node.generation.releases, self.node.generation.name,
               ' or '.join(CAPABILITY_ROUTES[capability])))

    def _body(self, **extra: t.Any) -> t.Dict[str, t.Any]:
        body: t.Dict[str, t.Any] = dict(request_id=self.request_id, **extra)
        if self.start is not None:
            body['start'] = self.start
        if self.end is not None:
            body['end'] = self.end
        return body

    def read(self) -> t.List[Chunk]:
        reply = self.node.client.request('GET', '%s?%s' % (self.route('kvcache_info'), urlencode(self._body())), accept=(404,))
        if reply.status == 404:
            # An unknown request is simply not cached.
            return []
        chunks = []
        for entry in reply.json_object().get('chunks', []):
            chunks.append(Chunk(
                index=int(entry['index']), start=int(entry['start']), end=int(entry['end']),
                locations=sorted(str(tier) for tier in entry.get('locations', [])),
                pin_count=int(entry.get('pin_count', 1 if entry.get('pinned') else 0)),
                compression=entry.get('compression'), size_bytes=entry.get('size_bytes'),
            ))
        return chunks

    def _write(self, method: str, capability: str, body: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        reply = self.node.client.request(method, self.route(capability), json_body=body, accept=(409,))
        answer = reply.json_object()
        if reply.status == 409 or answer.get('status') == 'REJECTED':
            raise Rejected(str(answer.get('reason') or answer.get('detail') or 'rejected by the server'))
        return answer

    def set_pin_counts(self, chunks: t.Sequence[Chunk], desired: t.Mapping[int, int]) -> None:
        # The design's pins are a flag per chunk: pin or unpin the selected range as a whole.
        pin = any(count > 0 for count in desired.values())
        self._write('POST' if pin else 'DELETE', 'pin', self._body())

    def admission(self, chunks: t.Sequence[Chunk], max_usage: float) -> None:
        """The design's server decides itself and answers REJECTED with its reason."""

    def scope(self) -> str:
        return self.node.url

    def require(self, capability: str) -> None:
        self.route(capability)

    def check_prefix_clear(self, tiers: t.Sequence[str]) -> None:
        """The design's clear takes the range itself."""

    def clear(self, tier: str, force: bool) -> None:
        self._write('POST', 'kvcache_clear', self._body(tier=tier, force=force))

    def read_settled(self, expect_gone: t.Callable[[t.List[Chunk]], bool]) -> t.List[Chunk]:
        return self.read()

    def compress(self, method: str) -> None:
        self._write('POST', 'compress', self._body(method=method))


def open_request_cache(module: t.Any, node: LMCacheServer) -> t.Union[TokenSequenceCache, RequestIdCache]:
    """The backend for the module's target options; nothing is sent yet."""
    params = module.params
    if params['request_id'] is not None:
        return RequestIdCache(node, params)
    return TokenSequenceCache(client_for(module, params['coordinator_url']), node, params)


def chunk_report(cache: t.Union[TokenSequenceCache, RequestIdCache], chunks: t.Sequence[Chunk]) -> t.Dict[str, t.Any]:
    """The result fields every per-request module returns about the request's chunks."""
    return dict(target=cache.description, chunks=[c.as_dict() for c in chunks], **chunk_summary(chunks))


def chunk_diff(before: t.Sequence[Chunk], after: t.Sequence[Chunk], fields: t.Sequence[str]) -> t.Dict[str, t.Any]:
    """Before/after of the given chunk fields, per chunk, as Ansible's diff shows them."""
    def view(chunks: t.Sequence[Chunk]) -> t.Dict[str, t.Any]:
        return {'%d:%d' % (c.start, c.end): {f: c.as_dict()[f] for f in fields} for c in chunks}
    return dict(before=view(before), after=view(after))
