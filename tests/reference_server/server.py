# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reference server for the per-request API of the `lmcache kvcache` design (docs/docsite/rst/per_request_api.rst).

No LMCache release offers these endpoints yet. This is the test double for them, not a replacement for real servers:
it serves the same /healthcheck, /status (0.5.6 shape), /version and /cache/clear as LMCache 0.5.6, with FastAPI
and uvicorn like LMCache (so validation errors look the same), plus /kvcache-info, /pin, /compress, /kvcache-clear.

    python server.py --port 18090 --request req-abc=1024 [--api-key KEY] [--reject-above 0.9]

Model: requests with token counts, 256-token chunks, L1 with a capacity and usage, L2, pins, compression by method
(zstd really compresses each chunk's stored bytes; other methods are refused), rejection of pins above an L1 usage
ratio. Test-only routes under /_test (not in /openapi.json) add requests and memory ballast.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import typing as t
from dataclasses import dataclass, field
from enum import Enum

import uvicorn
import zstandard
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

CHUNK_TOKENS = 256
VERSION = '0.5.6-kvcache-design-reference'
LOW_NIBBLE = bytes(b & 0x0F for b in range(256))
METHODS = {'zstd': lambda data: zstandard.ZstdCompressor(level=3).compress(data)}


@dataclass
class StoredChunk:
    data: bytes
    l1: bool = True
    l2: bool = True
    pinned: bool = False
    compression: t.Optional[str] = None


@dataclass
class StoredRequest:
    num_tokens: int
    chunks: t.List[StoredChunk] = field(default_factory=list)


@dataclass
class State:
    l1_capacity: int
    chunk_bytes: int
    reject_above: float
    api_key: t.Optional[str]
    requests: t.Dict[str, StoredRequest] = field(default_factory=dict)
    ballast: int = 0

    def add(self, request_id: str, num_tokens: int, l1: t.Optional[t.List[int]] = None,
            l2: t.Optional[t.List[int]] = None) -> None:
        count = num_tokens // CHUNK_TOKENS
        chunks = []
        for index in range(count):
            # Deterministic bytes with 4 random bits each: about 2:1 under zstd, like low-entropy KV values.
            seed = int.from_bytes(hashlib.sha256(('%s/%d' % (request_id, index)).encode()).digest()[:8], 'big')
            data = random.Random(seed).randbytes(self.chunk_bytes).translate(LOW_NIBBLE)
            chunks.append(StoredChunk(data=data, l1=l1 is None or index in l1, l2=l2 is None or index in l2))
        self.requests[request_id] = StoredRequest(num_tokens=num_tokens, chunks=chunks)

    def l1_used(self) -> int:
        return self.ballast + sum(len(c.data) for r in self.requests.values() for c in r.chunks if c.l1)

    def l1_objects(self) -> int:
        return sum(1 for r in self.requests.values() for c in r.chunks if c.l1)


class Tier(str, Enum):
    L1 = 'l1'
    L2 = 'l2'
    ALL = 'all'


class RangeBody(BaseModel):
    request_id: str = Field(min_length=1, max_length=256)
    start: t.Optional[int] = Field(default=None, ge=0)
    end: t.Optional[int] = Field(default=None, ge=1)


class CompressBody(RangeBody):
    method: str


class ClearBody(RangeBody):
    tier: Tier = Tier.L1
    force: bool = False


class CacheClearBody(BaseModel):
    tier: Tier = Tier.L1
    force: bool = False


class TestRequest(BaseModel):
    request_id: str
    num_tokens: int = Field(ge=0)
    l1: t.Optional[t.List[int]] = None
    l2: t.Optional[t.List[int]] = None


class Ballast(BaseModel):
    bytes: int = Field(ge=0)


def create_app(state: State) -> FastAPI:
    app = FastAPI(title='LMCache HTTP API (kvcache design reference)', version='1.0.0')

    @app.middleware('http')
    async def require_api_key(request: Request, call_next: t.Any) -> t.Any:
        # Like LMCache 0.5.7: only / and /healthcheck stay public, /openapi.json included.
        public = request.url.path in ('/', '/healthcheck') or request.url.path.startswith('/_test/')
        if state.api_key and not public:
            given = request.headers.get('X-LMCache-API-Key') or ''
            authorization = request.headers.get('Authorization') or ''
            if authorization.startswith('Bearer '):
                given = authorization[len('Bearer '):]
            if given != state.api_key:
                return JSONResponse(status_code=401, content={'detail': 'Invalid or missing API key'})
        return await call_next(request)

    def selected(request_id: str, start: t.Optional[int], end: t.Optional[int]) -> t.Tuple[StoredRequest, range]:
        stored = state.requests.get(request_id)
        if stored is None:
            raise HTTPException(status_code=404, detail='unknown request_id %r' % request_id)
        if start is not None and end is not None and start >= end:
            raise HTTPException(status_code=400, detail='start must be less than end')
        if end is not None and end > stored.num_tokens:
            raise HTTPException(status_code=400, detail='end %d is past the request (%d tokens)' % (end, stored.num_tokens))
        first = (start or 0) // CHUNK_TOKENS
        last = len(stored.chunks) - 1 if end is None else min(len(stored.chunks) - 1, math.ceil(end / CHUNK_TOKENS) - 1)
        return stored, range(first, last + 1)

    @app.get('/')
    def root() -> t.Dict[str, str]:
        return {'status': 'ok', 'service': 'LMCache HTTP API'}

    @app.get('/healthcheck')
    def healthcheck() -> t.Dict[str, str]:
        return {'status': 'healthy'}

    @app.get('/version')
    def version() -> str:
        return VERSION

    @app.get('/status')
    def status() -> t.Dict[str, t.Any]:
        used = state.l1_used()
        l1 = {'is_healthy': True, 'total_object_count': state.l1_objects(), 'memory_used_bytes': used,
              'memory_total_bytes': state.l1_capacity, 'memory_usage_ratio': used / state.l1_capacity}
        return {'is_healthy': True, 'engine_type': 'MPCacheServer', 'chunk_size': CHUNK_TOKENS, 'active_sessions': 0,
                'storage_manager': {'is_healthy': True, 'l1_managers': {'_default': l1}, 'l1_manager': l1,
                                    'l1_usage': [used, state.l1_capacity],
                                    'l1_eviction_controller': {'is_healthy': True, 'eviction_policy': 'LRU',
                                                               'trigger_watermark': 0.8, 'eviction_ratio': 0.2},
                                    'l2_adapters': [{'is_healthy': True, 'type': 'ReferenceL2Adapter'}],
                                    'num_l2_adapters': 1}}

    @app.post('/cache/clear')
    def cache_clear(body: t.Optional[CacheClearBody] = None) -> t.Dict[str, t.Any]:
        tier = (body or CacheClearBody()).tier
        if tier != Tier.L1:
            raise HTTPException(status_code=400, detail='tier %r not supported; only %r' % (tier.value, 'l1'))
        for stored in state.requests.values():
            for chunk in stored.chunks:
                chunk.l1 = False
        return {'status': 'ok', 'cleared': {'tier': 'l1'}}

    @app.get('/kvcache-info')
    def kvcache_info(request_id: str = Query(min_length=1, max_length=256), start: t.Optional[int] = Query(default=None, ge=0),
                     end: t.Optional[int] = Query(default=None, ge=1)) -> t.Dict[str, t.Any]:
        stored, indexes = selected(request_id, start, end)
        chunks = []
        for index in indexes:
            chunk = stored.chunks[index]
            chunks.append({'index': index, 'start': index * CHUNK_TOKENS, 'end': (index + 1) * CHUNK_TOKENS,
                           'locations': [tier for tier, held in (('L1', chunk.l1), ('L2', chunk.l2)) if held],
                           'pinned': chunk.pinned, 'pin_count': int(chunk.pinned), 'compression': chunk.compression,
                           'size_bytes': len(chunk.data)})
        return {'request_id': request_id, 'chunk_size': CHUNK_TOKENS, 'num_tokens': stored.num_tokens, 'chunks': chunks}

    @app.post('/pin')
    def pin(body: RangeBody) -> t.Any:
        stored, indexes = selected(body.request_id, body.start, body.end)
        usage = state.l1_used() / state.l1_capacity
        if usage > state.reject_above:
            return JSONResponse(status_code=409, content={
                'status': 'REJECTED', 'reason': 'L1 memory pressure (%d%%)' % round(usage * 100)})
        pinned, already, not_cached = [], [], []
        for index in indexes:
            chunk = stored.chunks[index]
            if not (chunk.l1 or chunk.l2):
                not_cached.append(index)
            elif chunk.pinned:
                already.append(index)
            else:
                chunk.pinned = True
                pinned.append(index)
        return {'status': 'OK', 'request_id': body.request_id, 'pinned': pinned, 'already_pinned': already,
                'not_cached': not_cached}

    @app.delete('/pin')
    def unpin(body: RangeBody) -> t.Dict[str, t.Any]:
        stored, indexes = selected(body.request_id, body.start, body.end)
        unpinned = [index for index in indexes if stored.chunks[index].pinned]
        for index in unpinned:
            stored.chunks[index].pinned = False
        return {'status': 'OK', 'request_id': body.request_id, 'unpinned': unpinned}

    @app.post('/compress')
    def compress(body: CompressBody) -> t.Dict[str, t.Any]:
        if body.method not in METHODS:
            raise HTTPException(status_code=400, detail='unsupported compression method %r; supported: %s'
                                % (body.method, ', '.join(sorted(METHODS))))
        stored, indexes = selected(body.request_id, body.start, body.end)
        compressed, already = [], []
        before = after = 0
        for index in indexes:
            chunk = stored.chunks[index]
            if not (chunk.l1 or chunk.l2):
                continue
            before += len(chunk.data)
            if chunk.compression == body.method:
                already.append(index)
            else:
                chunk.data = METHODS[body.method](chunk.data)
                chunk.compression = body.method
                compressed.append(index)
            after += len(chunk.data)
        return {'status': 'OK', 'request_id': body.request_id, 'method': body.method, 'compressed': compressed,
                'already_compressed': already, 'bytes_before': before, 'bytes_after': after}

    @app.post('/kvcache-clear')
    def kvcache_clear(body: ClearBody) -> t.Dict[str, t.Any]:
        stored, indexes = selected(body.request_id, body.start, body.end)
        deleted: t.Dict[str, t.List[int]] = {'L1': [], 'L2': []}
        skipped = []
        for index in indexes:
            chunk = stored.chunks[index]
            if chunk.pinned and not body.force:
                skipped.append(index)
                continue
            if body.tier in (Tier.L1, Tier.ALL) and chunk.l1:
                chunk.l1 = False
                deleted['L1'].append(index)
            if body.tier in (Tier.L2, Tier.ALL) and chunk.l2:
                chunk.l2 = False
                deleted['L2'].append(index)
        return {'status': 'OK', 'request_id': body.request_id, 'deleted': deleted, 'skipped': skipped}

    @app.post('/_test/requests', include_in_schema=False)
    def add_request(body: TestRequest) -> t.Dict[str, str]:
        state.add(body.request_id, body.num_tokens, body.l1, body.l2)
        return {'status': 'ok'}

    @app.put('/_test/ballast', include_in_schema=False)
    def set_ballast(body: Ballast) -> t.Dict[str, t.Any]:
        state.ballast = body.bytes
        return {'status': 'ok', 'usage_ratio': state.l1_used() / state.l1_capacity}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--api-key', help='require this key (Authorization: Bearer, or X-LMCache-API-Key)')
    parser.add_argument('--l1-bytes', type=int, default=64 * 1024 * 1024)
    parser.add_argument('--chunk-bytes', type=int, default=1024 * 1024)
    parser.add_argument('--reject-above', type=float, default=0.9, help='reject pins above this L1 usage ratio')
    parser.add_argument('--request', action='append', default=[], metavar='ID=TOKENS', help='a cached request')
    args = parser.parse_args()
    state = State(l1_capacity=args.l1_bytes, chunk_bytes=args.chunk_bytes, reject_above=args.reject_above,
                  api_key=args.api_key)
    for spec in args.request:
        request_id, _sep, tokens = spec.partition('=')
        state.add(request_id, int(tokens))
    uvicorn.run(create_app(state), host=args.host, port=args.port, log_level='warning')


if __name__ == '__main__':
    main()
