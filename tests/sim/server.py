# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A simulated LMCache fleet with fault injection: many nodes and a coordinator, in one process.

It stands in only where genuine servers cannot serve: fleets of 1,000 nodes, injected faults, the soak. Nodes answer
like a genuine 0.5.6 node (its recorded /openapi.json and /status, in data/), or 0.5.0 (G2), 0.4.4 (G1) and
0.5.7rc3 (API keys); the coordinator like a genuine 0.5.6 coordinator (instances, usage, directory lookup,
reference-counted prefix pins, targeted deletes). Each node listens on its own loopback address (127.0.x.y), all on
one port. State is plain Python, readable by the tests that check it after each operation.

    fleet = SimFleet(nodes=1000).start()      # in a thread of this process, or:
    python tests/sim/server.py --nodes 1000 --port 18080 --coordinator-port 19300 --ready-file F   # a process

Faults (SimFleet.fault, or POST /_sim/fault on the coordinator's address) apply to the next `times` matching requests:
delay, drip, reset, reset_mid_body, status (with headers), html, truncate, body, huge, redirect, apply_then_delay,
apply_then_reset, and together (the matching requests are answered only once `parties` of them wait at the same
time; after `seconds` without them, HTTP 500: proof that a client sent them at once, with no timing to measure).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import errno
import hashlib
import ipaddress
import itertools
import json
import os
import re
import resource
import sys
import threading
import typing as t
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
CHUNK = 256
OBJECT_BYTES = 4 * 1024 * 1024
L1_TOTAL = 1073741824


def _load(name: str) -> t.Any:
    with open(os.path.join(HERE, 'data', name)) as handle:
        return json.load(handle)


OPENAPI_056 = _load('openapi-0.5.6.json')
OPENAPI_057 = _load('openapi-0.5.7rc3.json')
STATUS_056 = _load('status-0.5.6.json')
VERSIONS = {'0.5.6': '0.5.6-g3e11e108', '0.5.7': '0.5.7rc3.dev0-gbf85b41fa', '0.5.0': '0.5.0-g389b9cfc', '0.4.4': None}
G2_ROUTES = ['/', '/clear-cache', '/conf', '/healthcheck', '/kvcache/check', '/quota', '/quota/{cache_salt}', '/status',
             '/version', '/l2/adapters', '/l2/keys', '/loglevel', '/periodic-threads-health']
G1_ROUTES = ['/', '/api/clear-cache', '/api/healthcheck', '/api/status']


def _openapi(paths: t.Iterable[str]) -> bytes:
    methods = {'/clear-cache': 'post', '/api/clear-cache': 'post'}
    return json.dumps({'openapi': '3.1.0', 'info': {'title': 'LMCache HTTP API', 'version': '1.0.0'},
                       'paths': dict((p, {methods.get(p, 'get'): {}}) for p in paths)}).encode()


OPENAPI_BYTES = {'0.5.6': json.dumps(OPENAPI_056).encode(), '0.5.7': json.dumps(OPENAPI_057).encode(),
                 '0.5.0': _openapi(G2_ROUTES), '0.4.4': _openapi(G1_ROUTES)}
# Each release's routes as patterns, for the 405 a route answers to a method it does not take (the exposure audit).
ROUTE_PATTERNS = dict((version, [re.compile('^%s$' % re.sub(r'\\\{[^}]*\\\}', '[^/]+', re.escape(path)))
                                 for path in json.loads(raw)['paths']]) for version, raw in OPENAPI_BYTES.items())
# The cache counters of /metrics a 0.5.6 node exports (its own names), by the attribute of Node that holds them.
METRICS = (('lookups', 'lmcache_mp_lookups_requests_total'), ('requested_tokens', 'lmcache_mp_lookup_requested_tokens_total'),
           ('hit_tokens', 'lmcache_mp_lookup_hit_tokens_total'), ('hit_tokens_l1', 'lmcache_mp_lookup_hit_l1_tokens_total'),
           ('hit_tokens_l2', 'lmcache_mp_lookup_hit_l2_tokens_total'))


def chunk_hashes(token_ids: t.Sequence[int], model: str, salt: str) -> t.List[str]:
    """Prefix-chained chunk hashes, as LMCache keys chunks (not its blake3, but the same shape): each chunk's hash
    covers every token before it."""
    import array
    packed = array.array('q', token_ids[:len(token_ids) // CHUNK * CHUNK]).tobytes()
    hashes = []
    previous = ('%s|%s' % (model, salt)).encode()
    step = CHUNK * 8
    for offset in range(0, len(packed), step):
        previous = hashlib.sha256(previous + packed[offset:offset + step]).digest()
        hashes.append(previous.hex())
    return hashes


def key_of(token_ids: t.Sequence[int], index: int, model: str, salt: str, rank: int) -> t.Dict[str, t.Any]:
    return make_key(chunk_hashes(token_ids[:(index + 1) * CHUNK], model, salt)[index], model, salt, rank)


def make_key(chunk_hash: str, model: str, salt: str, rank: int) -> t.Dict[str, t.Any]:
    return {'chunk_hash_hex': chunk_hash, 'model_name': model, 'kv_rank': 16777216 + rank * 256 + 256,
            'object_group_id': 0, 'cache_salt': salt}


def key_id(key: t.Mapping[str, t.Any]) -> t.Tuple[t.Any, ...]:
    return (key.get('chunk_hash_hex'), key.get('kv_rank'), key.get('object_group_id'), key.get('model_name'),
            key.get('cache_salt', ''))


class Fault:
    def __init__(self, kind: str, node: str = '*', method: str = '*', path: str = '*', times: int = 1,
                 **params: t.Any) -> None:
        self.kind = kind
        self.node = node
        self.method = method
        self.path = path
        self.times = times
        self.params = params

    def matches(self, node: str, method: str, path: str) -> bool:
        return (self.node in ('*', node) and self.method in ('*', method)
                and (self.path == '*' or re.fullmatch(self.path, path) is not None))


class Node:
    """One simulated LMCache MP server."""

    def __init__(self, name: str, address: str, version: str = '0.5.6', objects: int = 0,
                 api_key: t.Optional[str] = None) -> None:
        self.name = name
        self.address = address
        self.version = version
        self.anonymous_objects = objects
        self.locked_objects = 0
        self.api_key = api_key
        self.starting = False
        self.quotas: t.Dict[str, float] = {}
        self.prefetches: t.Dict[str, t.Dict[str, t.Any]] = {}
        self.layouts: t.Set[str] = {'test-model'}
        # Keyed objects per tier: key id -> key
        self.tiers: t.Dict[str, t.Dict[t.Tuple[t.Any, ...], t.Dict[str, t.Any]]] = {'L1': {}, 'L2': {}}
        self.clears = 0
        # A broken node: answers a clear, but this many objects stay in L1 (None: a clear works).
        self.kept_on_clear: t.Optional[int] = None
        self.requests: t.List[t.Tuple[str, str]] = []
        # Lookup counters since the node started (/metrics), e.g. {'requested_tokens': 2048, 'hit_tokens': 1024}.
        self.counters: t.Dict[str, float] = {}
        # Every credential a client sent (Authorization or X-LMCache-API-Key), to check where keys went.
        self.credentials_seen: t.Set[str] = set()
        # Periodic threads that have died (GET /periodic-threads-health names them), loggers' levels, and the
        # configuration GET /config (/conf on 0.5.0) answers, as a 0.5.6 node's is shaped.
        self.dead_threads: t.List[str] = []
        # Periodic threads a moment late (LMCache names them 15 ms after a 5 ms thread's last run; they are not stuck).
        self.late_threads: t.List[str] = []
        self.log_levels: t.Dict[str, str] = {'lmcache': 'INFO'}
        self.config: t.Dict[str, t.Any] = {
            'mp': {'host': address, 'port': 5555, 'chunk_size': 256, 'hash_algorithm': 'blake3', 'instance_id': name},
            'storage_manager': {'l1_manager_config': {'memory_config': {'size_in_bytes': L1_TOTAL}},
                                'eviction_config': {'eviction_policy': 'LRU', 'trigger_watermark': 0.8}}}

    @property
    def generation(self) -> str:
        return {'0.4.4': 'G1', '0.5.0': 'G2'}.get(self.version, 'G3')

    @property
    def objects(self) -> int:
        return self.anonymous_objects + len(self.tiers['L1'])

    @objects.setter
    def objects(self, value: int) -> None:
        self.anonymous_objects = value - len(self.tiers['L1'])

    def status(self) -> t.Dict[str, t.Any]:
        # Copies of the recorded answer along the path that changes only, the rest shared and never written: a deep
        # copy of the whole was most of the simulator's time per request (a benchmark's fleet is bound by it).
        used = self.objects * OBJECT_BYTES
        counts = dict(total_object_count=self.objects, memory_used_bytes=used, memory_total_bytes=L1_TOTAL,
                      memory_usage_ratio=used / L1_TOTAL, read_locked_count=self.locked_objects)
        recorded = STATUS_056['storage_manager']
        storage = dict(recorded, l1_manager=dict(recorded['l1_manager'], **counts), l1_usage=[used, L1_TOTAL])
        if self.generation == 'G3':
            storage['l1_managers'] = dict(recorded['l1_managers'],
                                          _default=dict(recorded['l1_managers']['_default'], **counts))
        else:
            del storage['l1_managers']
        return dict(STATUS_056, storage_manager=storage)

    def metrics(self) -> bytes:
        """/metrics as a 0.5.6 node writes it: a counter appears from its first increment (OpenTelemetry)."""
        lines = ['# HELP lmcache_mp_l1_eviction_loop_ticks_total L1 eviction-loop iterations (every cycle)',
                 'lmcache_mp_l1_eviction_loop_ticks_total 6.0']
        lines += ['%s{cache_salt="",model_name="test-model"} %r' % (metric, float(self.counters[name]))
                  for name, metric in METRICS if name in self.counters]
        return ('\n'.join(lines) + '\n').encode()

    def clear(self, force: bool) -> None:
        self.clears += 1
        if self.kept_on_clear is not None:
            total = self.objects
            self.tiers['L1'] = {}
            self.anonymous_objects = min(self.kept_on_clear, total)
            return
        kept = 0 if force or self.version not in ('0.5.6', '0.5.7') else min(self.locked_objects, self.objects)
        self.tiers['L1'] = {}
        self.anonymous_objects = kept


class Coordinator:
    """A simulated LMCache coordinator over the simulated nodes."""

    def __init__(self, fleet: 'SimFleet') -> None:
        self.fleet = fleet
        self.pins: t.Dict[t.Tuple[t.Any, ...], int] = {}
        # Fleet-wide L2 quotas (0.5.7 coordinator).
        self.quotas: t.Dict[str, float] = {}
        self.pin_keys: t.Dict[t.Tuple[t.Any, ...], t.Dict[str, t.Any]] = {}
        self.pin_writes = 0
        # Registrations and usage entries as anyone who reaches the coordinator can make them (POST /instances takes
        # no key): appended, verbatim, to what the simulated nodes register.
        self.registrations: t.List[t.Any] = []
        self.usage_entries: t.List[t.Any] = []
        # The instance ids DELETE /instances/{id} was asked for, in order.
        self.deletes: t.List[str] = []

    def keys(self, body: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
        tokens = body.get('token_ids') or []
        model, salt, world = body.get('model_name'), body.get('cache_salt', ''), int(body.get('world_size', 1))
        return [make_key(chunk, model, salt, rank) for chunk in chunk_hashes(tokens, model, salt) for rank in range(world)]

    def pin(self, body: t.Mapping[str, t.Any], delta: int) -> t.Dict[str, t.Any]:
        keys = self.keys(body)
        self.pin_writes += 1
        for key in keys:
            ident = key_id(key)
            count = max(0, self.pins.get(ident, 0) + delta)
            if count:
                self.pins[ident] = count
                self.pin_keys[ident] = key
            else:
                self.pins.pop(ident, None)
        return {'requested': len(keys) // max(1, int(body.get('world_size', 1))), 'affected': len(keys),
                'status': 'pinned' if delta > 0 else 'unpinned'}

    def lookup(self, body: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
        results = []
        # Only nodes holding keyed objects can hold these (a fleet of 1,000 mostly holds anonymous objects).
        holders = [node for node in self.fleet.nodes.values() if node.tiers['L1'] or node.tiers['L2']]
        for key in self.keys(body):
            ident = key_id(key)
            placements = [{'instance_id': node.name, 'incarnation': 1, 'tier': tier.lower(), 'backend': 'dram' if tier == 'L1' else 'fs',
                           'size_bytes': OBJECT_BYTES, 'shared': False}
                          for node in holders for tier in ('L1', 'L2') if ident in node.tiers[tier]]
            results.append({'key': key, 'placements': placements, 'token_ids': [0] * CHUNK, 'access_count': 1})
        return {'chunks': len(results), 'results': results}

    def delete(self, body: t.Mapping[str, t.Any]) -> t.Tuple[int, t.Dict[str, t.Any]]:
        node = self.fleet.by_name.get(body.get('instance_id'))
        if node is None:
            return 404, {'detail': "no MP server registered with instance_id='%s'" % body.get('instance_id')}
        if node.api_key:
            return 502, {'detail': "delete to '%s' failed: Client error '401 Unauthorized' for url 'http://%s/cache/objects'"
                         % (node.name, node.address)}
        tier, force = body.get('tier', 'all'), bool(body.get('force'))
        keys = self.keys(body)
        skipped = 0
        for key in keys:
            ident = key_id(key)
            pinned = self.pins.get(ident, 0) > 0
            if tier in ('l1',) or force or not pinned:
                for name in ({'l1': ['L1'], 'l2': ['L2'], 'all': ['L1', 'L2']}[tier]):
                    node.tiers[name].pop(ident, None)
            else:
                skipped += 1
        return 200, {'instance_id': node.name, 'requested': len(keys), 'affected': len(keys) - skipped,
                     'skipped': skipped, 'status': 'deleted' if keys else 'noop'}


class Response:
    def __init__(self, status: int, body: t.Any = None, raw: t.Optional[bytes] = None,
                 headers: t.Optional[t.Dict[str, str]] = None, content_type: str = 'application/json') -> None:
        self.status = status
        self.payload = raw if raw is not None else json.dumps(body).encode()
        self.headers = dict(headers or {})
        self.headers.setdefault('content-type', content_type)


REASONS = {200: 'OK', 202: 'Accepted', 204: 'No Content', 301: 'Moved Permanently', 302: 'Found', 307: 'Temporary Redirect', 400: 'Bad Request',
           401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict', 422: 'Unprocessable Entity',
           429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
           504: 'Gateway Timeout'}


class SimFleet:
    """Nodes on 127.0.x.y:port, optionally a coordinator on 127.0.0.1:coordinator_port, served by one event loop."""

    def __init__(self, nodes: int = 0, port: int = 0, coordinator: bool = True, coordinator_port: int = 0,
                 first_address: str = '127.0.1.1', version: str = '0.5.6', objects: int = 4, coordinators: int = 1) -> None:
        self.port = port
        self.coordinator_port = coordinator_port
        self.coordinators = coordinators
        self.coordinator_ports: t.List[int] = []
        # Which coordinator the request being answered reached (its index in coordinator_ports).
        self.shard: contextvars.ContextVar[int] = contextvars.ContextVar('shard', default=0)
        self.coordinator = Coordinator(self) if coordinator else None
        self.nodes: t.Dict[str, Node] = {}
        self.by_name: t.Dict[str, Node] = {}
        self.faults: t.List[Fault] = []
        self._addresses = self._address_iter(first_address)
        self._lock = threading.Lock()
        self.loop: t.Optional[asyncio.AbstractEventLoop] = None
        self._servers: t.List[t.Any] = []
        self._thread: t.Optional[threading.Thread] = None
        for number in range(nodes):
            self.add_node('node-%04d' % number, version=version, objects=objects)

    @staticmethod
    def _address_iter(first: str) -> t.Iterator[str]:
        start = int(ipaddress.IPv4Address(first))
        for offset in itertools.count():
            address = ipaddress.IPv4Address(start + offset)
            if str(address).endswith('.0') or str(address).endswith('.255'):
                continue
            yield str(address)

    def add_node(self, name: str, version: str = '0.5.6', objects: int = 0, api_key: t.Optional[str] = None) -> Node:
        node = Node(name, next(self._addresses), version, objects, api_key)
        self.nodes[node.address] = node
        self.by_name[name] = node
        if self.loop is not None:
            asyncio.run_coroutine_threadsafe(self._listen([node.address], self.port), self.loop).result()
        return node

    def url(self, node: t.Union[str, Node]) -> str:
        node = self.by_name[node] if isinstance(node, str) else node
        return 'http://%s:%d' % (node.address, self.port)

    @property
    def coordinator_url(self) -> str:
        return 'http://127.0.0.1:%d' % self.coordinator_port

    def fault(self, kind: str, **options: t.Any) -> Fault:
        fault = Fault(kind, **options)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults = []

    def store(self, node: t.Union[str, Node], token_ids: t.Sequence[int], model: str = 'test-model', salt: str = '',
              tiers: t.Sequence[str] = ('L1', 'L2'), world_size: int = 1, chunks: t.Optional[int] = None) -> None:
        """Cache a token sequence's chunks on a node, as an engine storing it would."""
        node = self.by_name[node] if isinstance(node, str) else node
        hashes = chunk_hashes(token_ids, model, salt)
        for chunk in hashes[:len(hashes) if chunks is None else chunks]:
            for rank in range(world_size):
                key = make_key(chunk, model, salt, rank)
                for tier in tiers:
                    node.tiers[tier][key_id(key)] = key

    def pin_count(self, token_ids: t.Sequence[int], index: int, model: str = 'test-model', salt: str = '') -> int:
        assert self.coordinator is not None
        return self.coordinator.pins.get(key_id(key_of(token_ids, index, model, salt, 0)), 0)

    # -- serving -------------------------------------------------------------------------------------------------

    def start(self) -> 'SimFleet':
        ready = threading.Event()
        errors: t.List[BaseException] = []

        def serve() -> None:
            self.loop = asyncio.new_event_loop()
            try:
                self.loop.run_until_complete(self._start_servers())
            except BaseException as exc:  # pragma: no cover - reported to the starting thread
                errors.append(exc)
                ready.set()
                return
            ready.set()
            self.loop.run_forever()

        _raise_fd_limit()
        self._thread = threading.Thread(target=serve, name='sim-fleet', daemon=True)
        self._thread.start()
        ready.wait(60)
        if errors:
            raise errors[0]
        return self

    async def _start_servers(self) -> None:
        chosen = not self.port
        for attempt in range(20):
            if chosen:
                import socket
                with socket.socket() as probe:
                    probe.bind(('127.0.1.1', 0))
                    self.port = probe.getsockname()[1]
            try:
                await self._listen(list(self.nodes), self.port)
                break
            except OSError as exc:
                # A port free on 127.0.1.1 may be taken on another node address (another listener, or the local end of
                # a connection of a test running beside this one): close what was opened and take another.
                if not chosen or exc.errno != errno.EADDRINUSE or attempt == 19:
                    raise
                for server in self._servers:
                    server.close()
                self._servers = []
        if self.coordinator is not None:
            server = await asyncio.start_server(self._handle, host='127.0.0.1', port=self.coordinator_port, backlog=1024)
            self.coordinator_port = server.sockets[0].getsockname()[1]
            self._servers.append(server)
            self.coordinator_ports = [self.coordinator_port]
            # More coordinators, each listing its own slice of the nodes (--coordinators N; one by default).
            for _shard in range(1, self.coordinators):
                server = await asyncio.start_server(self._handle, host='127.0.0.1', port=0, backlog=1024)
                self.coordinator_ports.append(server.sockets[0].getsockname()[1])
                self._servers.append(server)

    async def _listen(self, addresses: t.List[str], port: int) -> None:
        for index in range(0, len(addresses), 256):
            batch = addresses[index:index + 256]
            if batch:
                self._servers.append(await asyncio.start_server(self._handle, host=batch, port=port, backlog=256))

    def stop(self) -> None:
        if self.loop is None:
            return

        async def close() -> None:
            for server in self._servers:
                server.close()
            current = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not current:
                    task.cancel()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread:
            self._thread.join(10)
        if not (self._thread and self._thread.is_alive()):
            # Closed here, not left to the collector, which would close it at some later test's expense.
            self.loop.close()
        self.loop = None

    def __enter__(self) -> 'SimFleet':
        return self.start()

    def __exit__(self, *exc: t.Any) -> None:
        self.stop()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        local, local_port = writer.get_extra_info('sockname')[:2]
        self.shard.set(self.coordinator_ports.index(local_port) if local_port in self.coordinator_ports[1:] else 0)
        try:
            while True:
                try:
                    head = await reader.readuntil(b'\r\n\r\n')
                except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                    return
                lines = head.decode('latin-1').split('\r\n')
                method, target, _version = (lines[0].split(' ') + ['', '', ''])[:3]
                headers = dict((k.strip().lower(), v.strip()) for k, _colon, v in (line.partition(':') for line in lines[1:] if line))
                length = int(headers.get('content-length') or 0)
                raw = await reader.readexactly(length) if length else b''
                path, _mark, query = target.partition('?')
                if path.startswith('http://'):
                    path = '/' + path.split('/', 3)[3] if path.count('/') >= 3 else '/'
                keep = await self._answer(local, method, path, query, headers, raw, writer)
                if not keep or headers.get('connection', '').lower() == 'close':
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            try:
                writer.close()
            except Exception:  # pragma: no cover
                pass

    def _take_fault(self, node: str, method: str, path: str) -> t.Optional[Fault]:
        with self._lock:
            for fault in self.faults:
                if fault.times and fault.matches(node, method, path):
                    fault.times -= 1
                    return fault
        return None

    async def _answer(self, local: str, method: str, path: str, query: str, headers: t.Dict[str, str], raw: bytes,
                      writer: asyncio.StreamWriter) -> bool:
        node = self.nodes.get(local)
        name = node.name if node else 'coordinator'
        if node is None and path.startswith('/_sim/'):
            response = self._control(method, path, raw)
            await self._send(writer, response)
            return True
        fault = self._take_fault(name, method, path)
        if node is not None:
            node.requests.append((method, path))
        if fault is not None and fault.kind in ('delay',):
            await asyncio.sleep(fault.params.get('seconds', 1.0))
        if fault is not None and fault.kind == 'together' and not await _together(fault):
            await self._send(writer, Response(500, {'detail': 'the requests of a together fault did not wait at the same time'}))
            return True
        if fault is not None and fault.kind == 'reset':
            _reset(writer)
            return False
        if fault is not None and fault.kind in ('status', 'html', 'body', 'huge', 'redirect'):
            await self._send(writer, _fault_response(fault))
            return True
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            await self._send(writer, Response(400, {'detail': 'invalid JSON'}))
            return True
        with self._lock:
            response = self._node(node, method, path, query, headers, body) if node else self._coordinate(method, path, query, body)
        if fault is not None and fault.kind == 'apply_then_delay':
            await asyncio.sleep(fault.params.get('seconds', 30.0))
        if fault is not None and fault.kind == 'apply_then_reset':
            _reset(writer)
            return False
        if fault is not None and fault.kind in ('drip', 'truncate', 'reset_mid_body'):
            await self._send_faulty(writer, response, fault)
            return False
        await self._send(writer, response)
        return True

    async def _send(self, writer: asyncio.StreamWriter, response: Response) -> None:
        head = 'HTTP/1.1 %d %s\r\ncontent-length: %d\r\n%s\r\n' % (
            response.status, REASONS.get(response.status, 'Status'), len(response.payload),
            ''.join('%s: %s\r\n' % item for item in response.headers.items()))
        writer.write(head.encode('latin-1') + response.payload)
        await writer.drain()

    async def _send_faulty(self, writer: asyncio.StreamWriter, response: Response, fault: Fault) -> None:
        head = 'HTTP/1.1 %d %s\r\ncontent-length: %d\r\n%s\r\n' % (
            response.status, REASONS.get(response.status, 'Status'),
            len(response.payload) + (100 if fault.kind == 'truncate' else 0),
            ''.join('%s: %s\r\n' % item for item in response.headers.items()))
        writer.write(head.encode('latin-1'))
        await writer.drain()
        if fault.kind == 'drip':
            for byte in response.payload:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(fault.params.get('interval', 0.5))
            return
        half = response.payload[:max(1, len(response.payload) // 2)]
        writer.write(half if fault.kind == 'reset_mid_body' else response.payload)
        await writer.drain()
        if fault.kind == 'reset_mid_body':
            _reset(writer)
        else:
            writer.close()

    # -- the node's routes ---------------------------------------------------------------------------------------

    def _node(self, node: Node, method: str, path: str, query: str, headers: t.Dict[str, str], body: t.Any) -> Response:
        prefix = '/api' if node.generation == 'G1' else ''
        public = (path in ('/', prefix + '/healthcheck'))
        for header in ('authorization', 'x-lmcache-api-key'):
            if headers.get(header):
                node.credentials_seen.add(headers[header])
        if node.api_key and not public:
            given = headers.get('authorization', '')
            if given != 'Bearer %s' % node.api_key and headers.get('x-lmcache-api-key') != node.api_key:
                return Response(401, {'detail': 'Invalid or missing API key'}, headers={'www-authenticate': 'Bearer'})
        route = (method, path[len(prefix):] if prefix and path.startswith(prefix) else path)
        if path == '/openapi.json' and method == 'GET':
            return Response(200, raw=OPENAPI_BYTES[node.version])
        if route == ('GET', '/'):
            return Response(200, {'status': 'ok', 'service': 'LMCache HTTP API'})
        if route == ('GET', '/healthcheck'):
            if node.starting:
                return Response(503, {'status': 'unhealthy', 'reason': 'engine not initialized'})
            return Response(200, {'status': 'healthy'})
        if route == ('GET', '/status'):
            return Response(200, node.status())
        if route == ('GET', '/version') and VERSIONS[node.version]:
            return Response(200, VERSIONS[node.version])
        if method == 'PATCH':
            # No LMCache route takes PATCH: FastAPI's answer for a route that exists is 405.
            listed = any(pattern.match(path) for pattern in ROUTE_PATTERNS[node.version])
            return Response(405, {'detail': 'Method Not Allowed'}) if listed else Response(404, {'detail': 'Not Found'})
        if node.generation != 'G1':
            answer = self._runtime(node, route, query)
            if answer is not None:
                return answer
        clear_path = {'G1': '/clear-cache', 'G2': '/clear-cache', 'G3': '/cache/clear'}[node.generation]
        if route[1] == clear_path:
            if method != 'POST':
                return Response(405, {'detail': 'Method Not Allowed'})
            tier = (body or {}).get('tier', 'l1') if node.generation == 'G3' else 'l1'
            if tier != 'l1':
                return Response(400, {'detail': "tier '%s' not supported; only 'l1'" % tier})
            node.clear(bool((body or {}).get('force')) if node.generation == 'G3' else True)
            return Response(200, {'status': 'ok', 'cleared': {'tier': 'l1'}} if node.generation == 'G3' else {'status': 'ok'})
        if node.generation != 'G3':
            return Response(404, {'detail': 'Not Found'})
        if route == ('GET', '/metrics'):
            return Response(200, raw=node.metrics(), content_type='text/plain; version=0.0.4; charset=utf-8')
        if route == ('GET', '/config/adapters'):
            return Response(200, {'adapters': [{'index': 0, 'type_name': 'fs', 'tier': 'l2', 'primary': True, 'reconfigurable': False}]})
        if route == ('GET', '/quota'):
            return Response(200, {'users': dict((salt, {'cache_salt': salt, 'limit_gb': limit, 'current_usage_gb': 0.0,
                                                        'exists': True}) for salt, limit in node.quotas.items())})
        if path.startswith('/quota/'):
            salt = path[len('/quota/'):]
            if method == 'GET':
                if salt in node.quotas:
                    return Response(200, {'cache_salt': salt, 'limit_gb': node.quotas[salt], 'current_usage_gb': 0.0, 'exists': True})
                return Response(200, {'cache_salt': salt, 'limit_gb': None, 'current_usage_gb': 0.0, 'exists': False})
            if method == 'PUT':
                limit = (body or {}).get('limit_gb')
                if not isinstance(limit, (int, float)) or limit <= 0:
                    return Response(422, {'detail': [{'loc': ['body', 'limit_gb'], 'msg': 'Input should be greater than 0'}]})
                node.quotas[salt] = float(limit)
                return Response(200, {'cache_salt': salt, 'limit_gb': float(limit), 'status': 'ok'})
            if method == 'DELETE':
                return Response(200, {'cache_salt': salt, 'status': 'removed' if node.quotas.pop(salt, None) is not None else 'not_found'})
        if route == ('POST', '/cache/prefetches'):
            return self._prefetch(node, body or {})
        if method == 'GET' and path.startswith('/cache/prefetches/'):
            job = node.prefetches.get(path.rsplit('/', 1)[1])
            return Response(200, job) if job else Response(404, {'detail': 'unknown prefetch request'})
        if route == ('DELETE', '/cache/objects'):
            tier = (body or {}).get('tier', 'l2')
            deleted = 0
            for key in (body or {}).get('keys', []):
                for name in {'l1': ['L1'], 'l2': ['L2'], 'all': ['L1', 'L2']}[tier]:
                    if node.tiers[name].pop(key_id(key), None) is not None:
                        deleted += 1
            return Response(200, {'deleted': deleted, 'skipped': 0, 'ok': True})
        return Response(404, {'detail': 'Not Found'})

    def _runtime(self, node: Node, route: t.Tuple[str, str], query: str) -> t.Optional[Response]:
        """What a node runs (0.5.0 and later): its periodic threads' health, its configuration, its loggers' levels."""
        if route == ('GET', '/periodic-threads-health'):
            named = [{'name': name, 'level': 'high', 'last_run_ago': 600.0, 'interval': 1.0} for name in node.dead_threads] \
                + [{'name': name, 'level': 'high', 'last_run_ago': 0.02, 'interval': 0.005} for name in node.late_threads]
            return Response(200, {'healthy': not named, 'unhealthy_count': len(named), 'unhealthy_threads': named})
        if route == ('GET', '/config' if node.generation == 'G3' else '/conf'):
            return Response(200, node.config)
        if route == ('GET', '/loglevel'):
            params = dict(urllib.parse.parse_qsl(query))
            name, level = params.get('logger_name'), params.get('level')
            if name and level:
                if level.upper() not in ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL', 'NOTSET'):
                    return Response(400, raw=('Invalid log level: %s' % level).encode(), content_type='text/plain')
                node.log_levels[name] = level.upper()
                return Response(200, raw=('Set %s level to %s (including all handlers)' % (name, level.upper())).encode(),
                                content_type='text/plain')
            if name:
                return Response(200, raw=('%s: %s' % (name, node.log_levels.get(name, 'NOTSET'))).encode(), content_type='text/plain')
            return Response(200, raw=('=== Loggers and Levels ===\n' + ''.join(
                '%s: %s\n' % item for item in sorted(node.log_levels.items()))).encode(), content_type='text/plain')
        return None

    def _prefetch(self, node: Node, body: t.Mapping[str, t.Any]) -> Response:
        model = body.get('model_name')
        if model not in node.layouts:
            return Response(503, {'detail': 'no layout registered for model_name=%s' % model})
        tokens = body.get('token_ids') or []
        chunks = len(tokens) // CHUNK
        if not chunks:
            return Response(202, {'request_id': None, 'chunks': 0, 'status': 'noop'})
        assert self.coordinator is not None
        found = 0
        keys = self.coordinator.keys(body)
        for key in keys:
            ident = key_id(key)
            if ident in node.tiers['L2']:
                node.tiers['L1'][ident] = key
                found += 1
        job = uuid.uuid4().hex
        node.prefetches[job] = {'request_id': job, 'status': 'completed', 'found_keys': found, 'total_keys': len(keys)}
        return Response(202, {'request_id': job, 'chunks': chunks, 'status': 'submitted'})

    def _listed(self) -> t.List[Node]:
        """The nodes the coordinator answering this request lists: all of them, or its slice of them."""
        nodes = list(self.nodes.values())
        if self.coordinators == 1:
            return nodes
        size = -(-len(nodes) // self.coordinators)
        shard = self.shard.get()
        return nodes[shard * size:(shard + 1) * size]

    # -- the coordinator's routes --------------------------------------------------------------------------------

    def _coordinate(self, method: str, path: str, query: str, body: t.Any) -> Response:
        coordinator = self.coordinator
        if coordinator is None:
            return Response(404, {'detail': 'Not Found'})
        route = (method, path)
        if route == ('GET', '/healthz'):
            return Response(200, {'status': 'healthy'})
        if route == ('GET', '/instances'):
            return Response(200, {'instances': [
                {'instance_id': node.name, 'ip': node.address, 'http_port': self.port, 'registration_time': 1795805837.7,
                 'metadata': {'model': 'test-model', 'rack': 'r%d' % (number % 4)}, 'p2p_advertised_url': '', 'mq_port': 0}
                for number, node in enumerate(self._listed())] + coordinator.registrations})
        if method == 'DELETE' and path.startswith('/instances/'):
            # As LMCache's coordinator: 204 whether or not the instance was registered.
            instance = urllib.parse.unquote(path[len('/instances/'):])
            coordinator.registrations = [r for r in coordinator.registrations
                                         if not (isinstance(r, dict) and r.get('instance_id') == instance)]
            coordinator.deletes.append(instance)
            return Response(204, raw=b'')
        if route == ('GET', '/instances/usage'):
            return Response(200, {'instances': [
                {'instance_id': node.name, 'registered': True, 'declared_capacity': True, 'modules': [
                    {'tier': 'l1', 'backend': 'dram', 'shared': False, 'used_bytes': node.objects * OBJECT_BYTES,
                     'capacity_bytes': L1_TOTAL, 'usage_ratio': node.objects * OBJECT_BYTES / L1_TOTAL},
                    {'tier': 'l2', 'backend': 'fs', 'shared': False, 'used_bytes': len(node.tiers['L2']) * OBJECT_BYTES,
                     'capacity_bytes': 0, 'usage_ratio': None}]}
                for node in self._listed()] + coordinator.usage_entries, 'shared_modules': []})
        if route == ('POST', '/directory/lookup'):
            return Response(200, coordinator.lookup(body or {}))
        if path == '/cache/pins' and method in ('POST', 'DELETE'):
            return Response(200, coordinator.pin(body or {}, 1 if method == 'POST' else -1))
        if route == ('GET', '/cache/pins'):
            params = dict(part.partition('=')[::2] for part in query.split('&') if part)
            pins = [{'key': coordinator.pin_keys[ident], 'pin_count': count} for ident, count in sorted(coordinator.pins.items())
                    if params.get('model_name') in (None, ident[3])]
            offset, limit = int(params.get('offset', 0)), int(params.get('limit', 100))
            return Response(200, {'total': len(pins), 'pins': pins[offset:offset + limit]})
        if route == ('POST', '/cache/delete'):
            status, answer = coordinator.delete(body or {})
            return Response(status, answer)
        if route == ('GET', '/quota'):
            return Response(200, {'total_gb': sum(coordinator.quotas.values()), 'by_cache_salt': [
                {'cache_salt': salt, 'quota_limit_gb': limit, 'quota_exists': True, 'usage_gb': 0.0}
                for salt, limit in sorted(coordinator.quotas.items())]})
        if path.startswith('/quota/'):
            salt = path[len('/quota/'):]
            if method == 'GET':
                return Response(200, {'cache_salt': salt, 'quota_limit_gb': coordinator.quotas.get(salt, 0.0),
                                      'quota_exists': salt in coordinator.quotas, 'usage_gb': 0.0})
            if method == 'PUT':
                coordinator.quotas[salt] = float((body or {}).get('limit_gb', 0.0))
                return Response(200, {'cache_salt': salt, 'limit_gb': coordinator.quotas[salt], 'status': 'ok'})
            if method == 'DELETE':
                found = coordinator.quotas.pop(salt, None) is not None
                return Response(200, {'cache_salt': salt, 'limit_gb': 0.0, 'status': 'removed' if found else 'not_found'})
        if route == ('POST', '/cache/prefetches'):
            node = self.by_name.get((body or {}).get('instance_id'))
            if node is None:
                return Response(404, {'detail': "no MP server registered with instance_id='%s'" % (body or {}).get('instance_id')})
            answer = self._prefetch(node, body or {})
            if answer.status == 202:
                answer = Response(202, dict(json.loads(answer.payload), instance_id=node.name))
            return answer
        if method == 'GET' and path.startswith('/cache/prefetches/'):
            _prefix, _route, instance, job = path.split('/', 4)[1:]
            node = self.by_name.get(instance)
            found = node.prefetches.get(job) if node else None
            return Response(200, found) if found else Response(404, {'detail': 'unknown prefetch request'})
        return Response(404, {'detail': 'Not Found'})

    def _control(self, method: str, path: str, raw: bytes) -> Response:
        body = json.loads(raw) if raw else {}
        if path == '/_sim/fault' and method == 'POST':
            self.fault(**body)
            return Response(200, {'status': 'ok'})
        if path == '/_sim/reset' and method == 'POST':
            self.clear_faults()
            for node in self.nodes.values():
                node.objects = body.get('objects', 4)
                node.requests = []
                node.clears = 0
            return Response(200, {'status': 'ok'})
        if path == '/_sim/store' and method == 'POST':
            self.store(body['node'], body['token_ids'], model=body.get('model', 'test-model'),
                       tiers=tuple(body.get('tiers', ('L1', 'L2'))))
            return Response(200, {'status': 'ok'})
        if path == '/_sim/state' and method == 'GET':
            nodes = dict((n.name, {'objects': n.objects, 'clears': n.clears, 'requests': len(n.requests),
                                   'recent': ['%s %s' % r for r in n.requests[-8:]]}) for n in self.nodes.values())
            return Response(200, {'nodes': nodes})
        return Response(404, {'detail': 'Not Found'})


def _fault_response(fault: Fault) -> Response:
    params = fault.params
    if fault.kind == 'status':
        return Response(params.get('status', 500), params.get('body', {'detail': 'injected failure'}),
                        headers=params.get('headers'))
    if fault.kind == 'html':
        return Response(params.get('status', 200), raw=b'<html><head><title>Welcome to nginx!</title></head><body>hi</body></html>',
                        content_type='text/html')
    if fault.kind == 'body':
        return Response(params.get('status', 200), params.get('body'))
    if fault.kind == 'huge':
        return Response(200, raw=b'{"pad": "' + b'x' * params.get('bytes', 20 * 1024 * 1024) + b'"}')
    return Response(params.get('status', 307), {'detail': 'moved'}, headers={'location': params.get('location', '/elsewhere')})


async def _together(fault: Fault) -> bool:
    """Wait until fault.params['parties'] requests matching `fault` are waiting; False after its `seconds`."""
    # The count and the event are made here, in the server's loop, by the first request that arrives.
    if '_arrived' not in fault.params:
        fault.params['_arrived'] = [0, asyncio.Event()]
    arrived = fault.params['_arrived']
    arrived[0] += 1
    if arrived[0] >= fault.params.get('parties', 2):
        arrived[1].set()
    try:
        await asyncio.wait_for(arrived[1].wait(), fault.params.get('seconds', 20.0))
    except asyncio.TimeoutError:
        return False
    return True


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP reset, the way a crashed server or a proxy cuts a connection."""
    sock = writer.get_extra_info('socket')
    if sock is not None:
        import socket
        import struct
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        except OSError:
            pass
    writer.close()


def _raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: t.Optional[t.List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--nodes', type=int, default=1000)
    parser.add_argument('--port', type=int, default=0)
    parser.add_argument('--coordinator-port', type=int, default=0)
    parser.add_argument('--objects', type=int, default=4)
    parser.add_argument('--coordinators', type=int, default=1, help='coordinators, each listing its slice of the nodes')
    parser.add_argument('--ready-file', help='write {"port", "coordinator_port", "nodes": [[name, url]]} here when serving')
    args = parser.parse_args(argv)
    fleet = SimFleet(nodes=args.nodes, port=args.port, coordinator_port=args.coordinator_port, objects=args.objects,
                     coordinators=args.coordinators)
    _raise_fd_limit()
    loop = asyncio.new_event_loop()
    fleet.loop = loop
    loop.run_until_complete(fleet._start_servers())
    if args.ready_file:
        with open(args.ready_file + '.tmp', 'w') as handle:
            json.dump({'port': fleet.port, 'coordinator_port': fleet.coordinator_port, 'coordinator_ports': fleet.coordinator_ports,
                       'nodes': [[n.name, fleet.url(n)] for n in fleet.nodes.values()]}, handle)
        os.rename(args.ready_file + '.tmp', args.ready_file)
    try:
        loop.run_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
