# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Per-request operations (info, pin, clear, compress, prefetch) on one request's KV cache, through two backends:

- TokenSequenceCache: real LMCache today. The coordinator resolves a token sequence to chunk keys
  (/directory/lookup) and pins them fleet-wide (/cache/pins, prefix-only, reference-counted). Chunks are deleted on
  one instance either by the node itself (DELETE /cache/objects with the looked-up keys, exact range, the task's own
  API key) or through the coordinator (/cache/delete, prefix-only, no key). Prefetch goes to the node.
- RequestIdCache: the `lmcache kvcache` design's per-request endpoints on the node (/kvcache-info, /pin,
  /compress, /kvcache-clear), used when the server advertises them. See docs/docsite/rst/per_request_api.rst.

Both take a typed Target and clients; neither knows Ansible.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import json
import re
import socket
import time
import typing as t
from urllib.parse import urlencode, urlsplit

from ansible_collections.lmcache.kvcache.plugins.module_utils._answers import read_count, read_list, read_string
from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import CAPABILITY_ROUTES
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient, LMCacheError, LMCacheHTTPError
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import Rejected, usage_modules, usage_tiers
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import Untrusted, path_segment
from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import Networks, Registry, read_registry
from ansible_collections.lmcache.kvcache.plugins.module_utils._chunks import Chunk, prefix_operations
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import CHUNK_TOKENS, Target
from ansible_collections.lmcache.kvcache.plugins.module_utils._tokens import TokenSequence, tokens_json

TIERS = {'l1': ('L1',), 'l2': ('L2',), 'all': ('L1', 'L2')}
PINS_PAGE = 1000
# The directory learns of deletes and loads through node events: how long to wait for it to settle before reporting.
DIRECTORY_SETTLE_SECONDS = 5.0
SETTLE_POLL_SECONDS = 0.5
# Bytes allowed per chunk-rank in a directory lookup answer (each result carries 256 token ids and its placements).
LOOKUP_BYTES_PER_RESULT = 16 * 1024


# Lookup answers repeat every chunk's 256 token ids, which the modules do not need: they are cut from the text before
# it is parsed (a regular expression runs in C), so a 1,000,000-token lookup parses a fifth of its size.
TOKEN_IDS_IN_ANSWER = re.compile(r'"token_ids"\s*:\s*\[[-0-9,\s]*\]')


def _without_token_ids(text: str) -> str:
    return TOKEN_IDS_IN_ANSWER.sub('"token_ids":null', text)


class RequestCache:
    """What the per-request operations ask of a backend: one interface, so that no operation asks which backend it has.

    A backend that cannot do something says so, with what to do instead, in require() (before the first read).
    """

    target: Target
    # The tiers a pin protects from a delete that is not forced.
    pins_protect: t.FrozenSet[str] = frozenset()

    @property
    def description(self) -> str:
        raise NotImplementedError

    def require(self, capability: str) -> None:
        """Fail unless this backend can do `capability` (a key of CAPABILITY_ROUTES) for this request."""

    def scope(self) -> str:
        """Narrow reads and writes to the one instance the task means; its name for reports."""
        raise NotImplementedError

    def selected(self, chunks: t.Sequence[Chunk]) -> t.List[Chunk]:
        """The chunks in the task's range, out of a read."""
        return list(chunks)

    def read(self) -> t.List[Chunk]:
        raise NotImplementedError

    def read_settled(self, settled: t.Callable[[t.List[Chunk]], bool]) -> t.List[Chunk]:
        """A read after a write; backends whose reads lag their writes read again until `settled` holds."""
        return self.read()

    def pin_changes(self, chunks: t.Sequence[Chunk], goal: t.Mapping[int, int]) -> t.List[t.Tuple[str, t.Any]]:
        """The pin writes that move the pin counts of `chunks` to `goal` (chunk index -> count)."""
        raise NotImplementedError

    def apply_pin_change(self, change: t.Tuple[str, t.Any]) -> None:
        raise NotImplementedError

    def admission(self, chunks: t.Sequence[Chunk], max_usage: float) -> None:
        """Raise Rejected when pinning `chunks` now would hurt the instances that hold them."""

    def delete_via(self, asked: str, instance_id: t.Optional[str], keyed: bool) -> str:
        """Where a targeted delete goes: `node` or `coordinator`, given delete_via, instance_id and whether a key is set."""
        return 'node'

    def delete(self, chunks: t.Sequence[Chunk], tier: str, force: bool, via: str) -> None:
        raise NotImplementedError

    def compress(self, method: str) -> None:
        raise NotImplementedError

    def submit_prefetch(self, node: t.Optional[LMCacheServer]) -> t.Dict[str, t.Any]:
        raise NotImplementedError

    def prefetch_state(self, node: t.Optional[LMCacheServer], request_id: str) -> t.Dict[str, t.Any]:
        raise NotImplementedError


class TokenSequenceCache(RequestCache):
    """A request addressed by its token sequence, through the LMCache coordinator."""

    # Coordinator pins protect L2 copies: a delete of L1 removes a pinned chunk's L1 copy, any other delete spares it.
    pins_protect = frozenset(('L2',))

    def __init__(self, target: Target, coordinator: t.Optional[LMCacheClient], node: LMCacheServer,
                 node_for: t.Callable[[str, t.Optional[str]], LMCacheServer], networks: Networks) -> None:
        self.target = target
        self.coordinator = coordinator
        self.node = node
        # A client for another node's URL, with the task's options (for a node-direct delete on instance_id).
        self._node_for = node_for
        # The addresses of the coordinator's registry that the task's key may go to.
        self.networks = networks
        self.token_ids: t.Union[t.List[int], TokenSequence] = target.token_ids or []
        self.range = target.range
        complete = len(self.token_ids) // CHUNK_TOKENS
        self.last = complete - 1 if self.range.last is None else min(self.range.last, complete - 1)
        # Reads report placements on this instance only, once scope() has been called (None: every instance).
        self.scoped_instance: t.Optional[str] = None
        self._registry: t.Optional[Registry] = None
        self._instance_node: t.Optional[LMCacheServer] = None

    @property
    def description(self) -> str:
        via = ' via the coordinator %s' % self.coordinator.display_url if self.coordinator else ''
        return 'the %d-token sequence of model %s (chunks %d-%d)%s' % (
            len(self.token_ids), self.target.model_name, self.range.first, max(self.range.first, self.last), via)

    def _coordinator(self, why: str) -> LMCacheClient:
        if self.coordinator is None:
            raise LMCacheError('%s needs the LMCache coordinator: set coordinator_url (or LMCACHE_COORDINATOR_URL)' % why)
        return self.coordinator

    def body(self, chunks: t.Optional[int] = None, **extra: t.Any) -> bytes:
        """The JSON request body for the prefix of `chunks` whole chunks (default: up to the range's last chunk).

        Built around the tokens' JSON text: encoding a million integers again for each request would cost more than
        the request. A trailing partial chunk is sent along when the prefix is all complete chunks: LMCache ignores it.
        """
        chunks = self.last + 1 if chunks is None else chunks
        count = chunks * CHUNK_TOKENS
        if count >= len(self.token_ids) - CHUNK_TOKENS + 1:
            count = len(self.token_ids)
        rest = json.dumps(dict(model_name=self.target.model_name, world_size=self.target.world_size,
                               cache_salt=self.target.cache_salt, **extra), separators=(',', ':'))
        return ('{"token_ids":%s,%s' % (tokens_json(self.token_ids, count), rest[1:])).encode()

    def selected(self, chunks: t.Sequence[Chunk]) -> t.List[Chunk]:
        """The chunks in the range, out of a read of the whole prefix."""
        return [c for c in chunks if c.index >= self.range.first]

    def require(self, capability: str) -> None:
        if capability == 'compress':
            raise LMCacheError(
                '%s cannot compress a request addressed by token sequence: no LMCache release compresses KV cache on '
                "demand, and the coordinator has no compress route. Servers that offer the `lmcache kvcache` design's "
                'POST /compress take a request_id instead.' % self.node.describe())

    # -- instances ---------------------------------------------------------------------------------------------

    def registry(self) -> Registry:
        """The coordinator's registry, through the one reader: registrations checked, held against networks."""
        if self._registry is None:
            coordinator = self._coordinator('finding the instance')
            self._registry = read_registry(coordinator, self.networks, urlsplit(self.node.client.base_url).scheme)
        return self._registry

    def instance_at_url(self) -> t.Optional[str]:
        """The instance registered with the coordinator at the node's url (address and port), if any."""
        node = urlsplit(self.node.client.base_url)
        addresses = {node.hostname}
        try:
            addresses.add(socket.gethostbyname(node.hostname or ''))
        except (OSError, UnicodeError):
            pass
        port = node.port or (443 if node.scheme == 'https' else 80)
        for instance in self.registry().kept:
            if instance['ip'] in addresses and instance['http_port'] == port:
                return str(instance['instance_id'])
        return None

    def instance_id(self, required: bool) -> t.Optional[str]:
        """The instance meant: instance_id if given, else the one registered at the node's url."""
        wanted = self.target.instance_id
        registry = self.registry()
        if wanted is not None:
            if wanted in registry.left_out_ids:
                raise LMCacheError('instance_id %r is left out, so nothing is sent to it: %s' % (wanted, registry.left_out_ids[wanted]))
            known = sorted(str(i['instance_id']) for i in registry.kept)
            if wanted not in known:
                raise LMCacheError('instance_id %r is not registered with the coordinator %s; registered: %s'
                                   % (wanted, registry.coordinator, ', '.join(known) or 'none'))
            return wanted
        found = self.instance_at_url()
        if found is None and required:
            raise LMCacheError('no instance registered with the coordinator %s serves %s; registered: %s. '
                               'Set instance_id, or url to the node meant.'
                               % (registry.coordinator, self.node.url,
                                  ', '.join('%s (%s:%s)' % (i['instance_id'], i['ip'], i['http_port'])
                                            for i in registry.kept) or 'none'))
        return found

    def scope(self) -> str:
        """Narrow reads and clears to one instance: instance_id, or the node at url."""
        self.scoped_instance = self.instance_id(required=True)
        return self.scoped_instance

    def instance_node(self) -> LMCacheServer:
        """The node of the scoped instance: the one at url, or the address it registered with the coordinator (checked,
        and sent the task's key only where networks vouches for it)."""
        wanted = self.target.instance_id
        if wanted is None:
            return self.node
        if self._instance_node is None:
            registry = self.registry()
            self._instance_node = self.node
            for instance in registry.kept:
                if instance['instance_id'] == wanted and instance['url'] != self.node.client.base_url:
                    self._instance_node = self._node_for(instance['url'], registry.key_withheld(instance))
        return self._instance_node

    # -- reading -----------------------------------------------------------------------------------------------

    def _pin_counts(self) -> t.Dict[t.Tuple[t.Any, ...], int]:
        coordinator = self._coordinator('reading pins')
        counts: t.Dict[t.Tuple[t.Any, ...], int] = {}
        offset = 0
        while True:
            query = urlencode(dict(model_name=self.target.model_name, cache_salt=self.target.cache_salt, offset=offset,
                                   limit=PINS_PAGE))
            reply = coordinator.request('GET', '/cache/pins?' + query, max_bytes=PINS_PAGE * 2048)
            body = reply.json_object()
            page = [p for p in read_list(reply, body, 'pins') if isinstance(p, dict)]
            for number, pin in enumerate(page):
                counts[_key_id(pin.get('key'))] = t.cast(int, read_count(reply, pin, 'pin_count', name='pins[%d].pin_count' % (offset + number)))
            offset += len(page)
            total = t.cast(int, read_count(reply, body, 'total'))
            if not page or offset >= total:
                return counts

    def read(self) -> t.List[Chunk]:
        """Every chunk from 0 to the range's last, with placements (of the scoped instance only, once scope() was
        called), the keys of each rank, and pin counts. Pins are counted over the whole prefix: plans need them."""
        if self.last < 0:
            return []
        coordinator = self._coordinator('reading where a token sequence is cached')
        results_expected = (self.last + 1) * self.target.world_size
        reply = coordinator.request('POST', '/directory/lookup', raw_body=self.body(), write=False,
                                    max_bytes=1024 * 1024 + results_expected * LOOKUP_BYTES_PER_RESULT,
                                    prepare=_without_token_ids)
        results = [r for r in read_list(reply, reply.json_object(), 'results') if isinstance(r, dict)]
        if len(results) < results_expected:
            raise LMCacheError('POST %s: the directory answered %d chunk keys for %d chunks x world_size %d'
                               % (reply.url, len(results), self.last + 1, self.target.world_size))
        pins = self._pin_counts()
        instance = self.scoped_instance
        chunks = []
        for index in range(0, self.last + 1):
            # Results are chunk-major, one key per rank.
            ranks = results[index * self.target.world_size:(index + 1) * self.target.world_size]
            placements = sorted({(str(p.get('instance_id')), str(p.get('tier')).upper())
                                 for r in ranks for p in read_list(reply, r, 'placements', optional=True)
                                 if isinstance(p, dict) and (instance is None or p.get('instance_id') == instance)})
            chunks.append(Chunk(
                index=index, start=index * CHUNK_TOKENS, end=(index + 1) * CHUNK_TOKENS,
                locations=sorted({tier for _instance, tier in placements}),
                placements=[dict(instance_id=i, tier=tier) for i, tier in placements],
                pin_count=min((pins.get(_key_id(r.get('key')), 0) for r in ranks), default=0),
                keys=[r.get('key') for r in ranks if isinstance(r.get('key'), dict)],
            ))
        return chunks

    def read_settled(self, settled: t.Callable[[t.List[Chunk]], bool]) -> t.List[Chunk]:
        """Read until `settled` holds or the directory has had time to learn of the change (node events)."""
        waited = 0.0
        while True:
            chunks = self.read()
            if settled(chunks) or waited >= DIRECTORY_SETTLE_SECONDS \
                    or (self.coordinator and self.coordinator.deadline.remaining() < SETTLE_POLL_SECONDS * 4):
                return chunks
            time.sleep(SETTLE_POLL_SECONDS)
            waited += SETTLE_POLL_SECONDS

    # -- pins --------------------------------------------------------------------------------------------------

    def pin_changes(self, chunks: t.Sequence[Chunk], goal: t.Mapping[int, int]) -> t.List[t.Tuple[str, t.Any]]:
        """Prefix pins/unpins that move the counts of `chunks` (a read of the whole prefix) to `goal` (index -> count)."""
        current = [0] * (self.last + 1)
        for chunk in chunks:
            current[chunk.index] = chunk.pin_count
        desired = list(current)
        for index, count in goal.items():
            desired[index] = count
        return prefix_operations(current, desired)

    def apply_pin_change(self, change: t.Tuple[str, t.Any]) -> None:
        kind, length = change
        self._coordinator('pinning').request('POST' if kind == 'pin' else 'DELETE', '/cache/pins', raw_body=self.body(length))

    def admission(self, chunks: t.Sequence[Chunk], max_usage: float) -> None:
        """Refuse to pin while an instance holding the request's chunks is under L1 memory pressure."""
        holders = {p['instance_id'] for c in chunks for p in c.placements}
        target = self.instance_id(required=False)
        if target:
            holders.add(target)
        reply = self._coordinator('the admission check').request('GET', '/instances/usage')
        for number, instance in enumerate(read_list(reply, reply.json_object(), 'instances')):
            if not isinstance(instance, dict) or instance.get('instance_id') not in holders:
                continue
            try:
                ratio = usage_tiers(usage_modules(instance, 'instances[%d]' % number)).get('l1', {}).get('usage_ratio')
            except Untrusted as exc:
                raise LMCacheError('GET %s: cannot read %s' % (reply.url, exc))
            if ratio is not None and ratio >= max_usage:
                raise Rejected('L1 memory pressure (%d%%) on %s, at or above max_usage (%d%%)'
                               % (round(ratio * 100), instance['instance_id'], round(max_usage * 100)))

    # -- clear -------------------------------------------------------------------------------------------------

    def delete_via(self, asked: str, instance_id: t.Optional[str], keyed: bool) -> str:
        """node: DELETE /cache/objects on the instance's node (exact range, the task's key); coordinator: /cache/delete."""
        # Only a delete that may go to the node asks the node what it offers (it may be down: the coordinator is not).
        if asked != 'auto':
            if asked == 'node' and not self.instance_node().discovery.has('object_delete'):
                raise LMCacheError('%s has no DELETE /cache/objects (LMCache 0.5.1 and later): use delete_via: coordinator'
                                   % self.instance_node().describe())
            return asked
        at_url = instance_id in (None, self.instance_at_url())
        # The task's key goes to the instance's node only where networks vouches for its registered address.
        keyed = keyed and self.instance_node().client.key_withheld is None
        if (at_url or keyed) and self.instance_node().discovery.has('object_delete'):
            return 'node'
        return 'coordinator'

    def delete(self, chunks: t.Sequence[Chunk], tier: str, force: bool, via: str) -> None:
        if via == 'node':
            # Exactly these chunks' keys on the instance's node, with the task's own API key.
            keys = [key for c in chunks for key in c.keys]
            if keys:
                self.instance_node().delete_objects(keys, tier, force)
        else:
            self._delete_via_coordinator(tier, force)

    def _delete_via_coordinator(self, tier: str, force: bool) -> None:
        coordinator = self._coordinator('a targeted clear')
        try:
            coordinator.request('POST', '/cache/delete', raw_body=self.body(instance_id=self.scope(), tier=tier, force=force))
        except LMCacheHTTPError as exc:
            if exc.status == 502 and '401' in exc.server_text:
                raise LMCacheError('%s. The node needs an API key, which the coordinator cannot send: delete on the node '
                                   'itself (delete_via: node, with api_key)' % exc)
            raise

    # -- prefetch ----------------------------------------------------------------------------------------------

    def submit_prefetch(self, node: t.Optional[LMCacheServer]) -> t.Dict[str, t.Any]:
        """Submit a prefetch of the range's prefix from L2 into L1: on the node, or (node None) through the coordinator
        for the scoped instance (0.5.7 and later)."""
        if node is not None:
            path = node.require('prefetch', 'prefetch from L2 into L1')
            reply = node.client.request('POST', path, raw_body=self.body(source_tier='l2', target_tier='l1'))
        else:
            reply = self._coordinator('a prefetch through the coordinator').request(
                'POST', '/cache/prefetches', raw_body=self.body(instance_id=self.scope()))
        body = reply.json_object()
        return dict(request_id=read_string(reply, body, 'request_id', optional=True) or None,
                    status=read_string(reply, body, 'status'),
                    chunks=read_count(reply, body, 'chunks', optional=True))

    def prefetch_state(self, node: t.Optional[LMCacheServer], request_id: str) -> t.Dict[str, t.Any]:
        if node is not None:
            reply = node.client.request('GET', '/cache/prefetches/%s' % path_segment(request_id, 'the request_id the server gave the prefetch'))
        else:
            path = '/cache/prefetches/%s/%s' % (path_segment(self.scoped_instance, 'instance_id'),
                                                path_segment(request_id, 'the request_id the coordinator gave the prefetch'))
            reply = self._coordinator('a prefetch through the coordinator').request('GET', path)
        body = reply.json_object()
        return dict(status=read_string(reply, body, 'status'),
                    found_keys=read_count(reply, body, 'found_keys', optional=True),
                    total_keys=read_count(reply, body, 'total_keys', optional=True))


def _key_id(key: t.Any) -> t.Tuple[t.Any, ...]:
    key = key if isinstance(key, dict) else {}
    return (key.get('chunk_hash_hex'), key.get('kv_rank'), key.get('object_group_id'), key.get('model_name'),
            key.get('cache_salt'))


class RequestIdCache(RequestCache):
    """A request addressed by request id, through the design's per-request endpoints on the node."""

    # The design pins a request to L1: a pinned chunk is spared by any delete unless forced.
    pins_protect = frozenset(('L1', 'L2'))

    def __init__(self, target: Target, node: LMCacheServer) -> None:
        self.target = target
        self.node = node
        self.request_id = t.cast(str, target.request_id)

    @property
    def description(self) -> str:
        return 'request %s on %s' % (self.request_id, self.node.url)

    def require(self, capability: str) -> None:
        self.route(capability)

    def scope(self) -> str:
        return self.node.url

    def route(self, capability: str) -> str:
        path = self.node.discovery.route(capability)
        if path:
            return path
        raise LMCacheError(
            '%s has no per-request endpoint %s: no LMCache release offers the `lmcache kvcache` design\'s request-id '
            'API yet (see the collection docs, "The per-request KV cache API"). Address the request by token_ids and '
            'model_name through the coordinator instead.'
            % (self.node.describe(), ' or '.join('%s %s' % (m.upper(), p) for m, p in CAPABILITY_ROUTES[capability])))

    def _body(self, **extra: t.Any) -> t.Dict[str, t.Any]:
        body: t.Dict[str, t.Any] = dict(request_id=self.request_id, **extra)
        if self.target.start is not None:
            body['start'] = self.target.start
        if self.target.end is not None:
            body['end'] = self.target.end
        return body

    def read(self) -> t.List[Chunk]:
        reply = self.node.client.request('GET', '%s?%s' % (self.route('kvcache_info'), urlencode(self._body())), accept=(404,))
        if reply.status == 404:
            # An unknown request is simply not cached.
            return []
        chunks = []
        entries = read_list(reply, reply.json_object(), 'chunks')
        for number, entry in enumerate(entries):
            where = 'chunks[%d].' % number
            if not isinstance(entry, dict):
                raise LMCacheError('GET %s: cannot read chunks[%d]: %r, expected an object' % (reply.url, number, entry))
            pinned = entry.get('pinned')
            pin_count = read_count(reply, entry, 'pin_count', optional=True, name=where + 'pin_count')
            chunks.append(Chunk(
                index=t.cast(int, read_count(reply, entry, 'index', name=where + 'index')),
                start=t.cast(int, read_count(reply, entry, 'start', name=where + 'start')),
                end=t.cast(int, read_count(reply, entry, 'end', name=where + 'end')),
                locations=sorted(str(tier) for tier in read_list(reply, entry, 'locations', optional=True, name=where + 'locations')),
                pin_count=pin_count if pin_count is not None else (1 if pinned is True else 0),
                compression=read_string(reply, entry, 'compression', optional=True, name=where + 'compression'),
                size_bytes=read_count(reply, entry, 'size_bytes', optional=True, name=where + 'size_bytes'),
            ))
        return chunks

    def _write(self, method: str, capability: str, body: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        reply = self.node.client.request(method, self.route(capability), json_body=body, accept=(409,))
        answer = reply.json_object()
        if reply.status == 409 or answer.get('status') == 'REJECTED':
            raise Rejected(str(answer.get('reason') or answer.get('detail') or 'rejected by the server'))
        return answer

    def pin_changes(self, chunks: t.Sequence[Chunk], goal: t.Mapping[int, int]) -> t.List[t.Tuple[str, t.Any]]:
        # The design's pins are a flag per chunk, set for the selected range as a whole: one pin or one unpin.
        if any(goal.get(c.index, c.pin_count) > c.pin_count for c in chunks):
            return [('pin', None)]
        if any(goal.get(c.index, c.pin_count) < c.pin_count for c in chunks):
            return [('unpin', None)]
        return []

    def apply_pin_change(self, change: t.Tuple[str, t.Any]) -> None:
        self._write('POST' if change[0] == 'pin' else 'DELETE', 'pin', self._body())

    def delete(self, chunks: t.Sequence[Chunk], tier: str, force: bool, via: str) -> None:
        self._write('POST', 'kvcache_clear', self._body(tier=tier, force=force))

    def compress(self, method: str) -> None:
        self._write('POST', 'compress', self._body(method=method))
