# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What an LMCache server offers, and the operations on it, whatever its API generation.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import functools
import re
import typing as t
from dataclasses import dataclass

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    LMCacheClient,
    LMCacheError,
    Reply,
    http_error,
    server_error_text,
)


@dataclass(frozen=True)
class Generation:
    """The routes of one generation of the LMCache MP server HTTP API."""

    name: str
    releases: str
    health: str
    status: str
    clear: str
    # Only G3 takes a body on clear; G1 and G2 always force-clear.
    clear_takes_body: bool


# One table of routes per generation. Everything that differs between generations is here.
GENERATIONS = (
    Generation('G3', '0.5.1 - 0.5.6', health='/healthcheck', status='/status', clear='/cache/clear', clear_takes_body=True),
    Generation('G2', '0.4.5 - 0.5.0', health='/healthcheck', status='/status', clear='/clear-cache', clear_takes_body=False),
    Generation('G1', '0.4.1 - 0.4.4', health='/api/healthcheck', status='/api/status', clear='/api/clear-cache', clear_takes_body=False),
)

# Optional endpoints worth knowing about, by the name the collection reports them under.
# The per-request ones are the `lmcache kvcache` design's (no release has them yet; both spellings the design used).
CAPABILITY_ROUTES: t.Dict[str, t.Tuple[str, ...]] = {
    'version': ('/version',),
    'config': ('/config', '/conf'),
    'metrics': ('/metrics',),
    'l2_objects': ('/cache/objects', '/l2/keys'),
    'l2_adapters': ('/config/adapters', '/l2/adapters'),
    'quota': ('/quota',),
    'prefetch': ('/cache/prefetches',),
    'kvcache_info': ('/kvcache-info', '/api/kvcache-info'),
    'pin': ('/pin', '/api/pin'),
    'compress': ('/compress', '/api/compress'),
    'kvcache_clear': ('/kvcache-clear', '/api/kvcache-clear'),
}

# From this release on, G3 honours force=false (clears only objects that are safe to remove).
FORCE_HONOURED_SINCE = (0, 5, 6)


def parse_version(version: t.Optional[str]) -> t.Optional[t.Tuple[int, int, int]]:
    """'0.5.6-g3e11e108' or '0.5.7rc3' -> (0, 5, 6) / (0, 5, 7)."""
    match = re.match(r'^v?(\d+)\.(\d+)\.(\d+)', version or '')
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


@dataclass(frozen=True)
class Discovery:
    generation: Generation
    paths: t.FrozenSet[str]
    # How the generation was found: 'openapi' (the route list) or 'probe' (fallback, no route list).
    source: str

    @property
    def capabilities(self) -> t.List[str]:
        return sorted(name for name in CAPABILITY_ROUTES if self.route(name))

    def has(self, capability: str) -> bool:
        return self.route(capability) is not None

    def route(self, capability: str) -> t.Optional[str]:
        """The path serving `capability` on this server, or None."""
        for path in CAPABILITY_ROUTES[capability]:
            if path in self.paths:
                return path
        return None


@dataclass(frozen=True)
class Health:
    healthy: bool
    # The server's own words when it is not healthy.
    reason: t.Optional[str]
    status: int


@dataclass(frozen=True)
class L1Usage:
    objects: int
    bytes_used: int
    bytes_total: int
    usage_ratio: t.Optional[float]

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(objects=self.objects, bytes_used=self.bytes_used, bytes_total=self.bytes_total, usage_ratio=self.usage_ratio)


@dataclass(frozen=True)
class ServerStatus:
    """The parts of `/status` the collection uses, read the same way on every generation."""

    chunk_size: t.Optional[int]
    active_sessions: t.Optional[int]
    l1: L1Usage
    eviction_watermark: t.Optional[float]
    l2_adapters: t.List[t.Dict[str, t.Any]]


def _int(value: t.Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0


def parse_status(body: t.Dict[str, t.Any]) -> ServerStatus:
    storage = body.get('storage_manager') or {}
    # Every generation has `l1_manager`; G3 0.5.6 adds per-backend `l1_managers` whose `_default` is the same one.
    l1 = storage.get('l1_manager')
    if not isinstance(l1, dict):
        managers = [m for m in (storage.get('l1_managers') or {}).values() if isinstance(m, dict)]
        l1 = {
            'total_object_count': sum(_int(m.get('total_object_count')) for m in managers),
            'memory_used_bytes': sum(_int(m.get('memory_used_bytes')) for m in managers),
            'memory_total_bytes': sum(_int(m.get('memory_total_bytes')) for m in managers),
        }
    used, total = _int(l1.get('memory_used_bytes')), _int(l1.get('memory_total_bytes'))
    ratio = l1.get('memory_usage_ratio')
    if not isinstance(ratio, (int, float)):
        ratio = (float(used) / total) if total else None
    eviction = storage.get('l1_eviction_controller') or {}
    watermark = eviction.get('trigger_watermark')
    adapters = storage.get('l2_adapters')
    return ServerStatus(
        chunk_size=body.get('chunk_size') if isinstance(body.get('chunk_size'), int) else None,
        active_sessions=body.get('active_sessions') if isinstance(body.get('active_sessions'), int) else None,
        l1=L1Usage(_int(l1.get('total_object_count')), used, total, float(ratio) if ratio is not None else None),
        eviction_watermark=float(watermark) if isinstance(watermark, (int, float)) else None,
        l2_adapters=[a for a in adapters if isinstance(a, dict)] if isinstance(adapters, list) else [],
    )


def _generation_from_paths(paths: t.FrozenSet[str]) -> t.Optional[Generation]:
    for generation in GENERATIONS:
        if generation.clear in paths:
            return generation
    return None


class LMCacheServer:
    """One LMCache MP server, its API discovered once per module run."""

    def __init__(self, client: LMCacheClient) -> None:
        self.client = client

    @property
    def url(self) -> str:
        return self.client.display_url

    @functools.cached_property
    def discovery(self) -> Discovery:
        return self._discover()

    @property
    def known_generation_name(self) -> t.Optional[str]:
        """The generation if discovery has already run; never sends a request (used when reporting failures)."""
        discovery = self.__dict__.get('discovery')
        return discovery.generation.name if discovery else None

    @property
    def generation(self) -> Generation:
        return self.discovery.generation

    def _discover(self) -> Discovery:
        # 401 is raised as is: without a key nothing else would work either.
        reply = self.client.request('GET', '/openapi.json', accept=(404, 405, 500))
        if reply.status == 200 and isinstance(reply.body, dict) and isinstance(reply.body.get('paths'), dict):
            paths = frozenset(reply.body['paths'])
            generation = _generation_from_paths(paths)
            if generation is None:
                raise LMCacheError(
                    '%s does not look like an LMCache server: its /openapi.json lists none of the clear routes %s'
                    % (self.url, ', '.join(g.clear for g in GENERATIONS)))
            return Discovery(generation, paths, 'openapi')
        # No usable route list (docs turned off, a proxy in front): ask each generation's clear route with a GET.
        # FastAPI answers 405 for a route that exists with another method, 404 for one that does not.
        for generation in GENERATIONS:
            probe = self.client.request('GET', generation.clear, accept=(404, 405))
            if probe.status == 405:
                return Discovery(generation, frozenset((generation.health, generation.status, generation.clear)), 'probe')
        raise LMCacheError(
            '%s does not look like an LMCache server: GET %s answered HTTP %d%s, and none of %s exists there'
            % (self.url, reply.url, reply.status, _gist(reply), ', '.join(g.clear for g in GENERATIONS)))

    @functools.cached_property
    def version(self) -> t.Optional[str]:
        """The server's version string where it tells it (G2 and later), else None."""
        if not self.discovery.has('version'):
            return None
        body = self.client.request('GET', '/version').body
        return body if isinstance(body, str) else None

    @property
    def force_honoured(self) -> bool:
        """Whether a clear with force=false really spares locked objects on this server."""
        version = parse_version(self.version)
        return self.generation.clear_takes_body and version is not None and version >= FORCE_HONOURED_SINCE

    def health(self) -> Health:
        """A starting server's 503 is an answer here, not a failure."""
        reply = self.client.request('GET', self.generation.health, accept=(503,))
        if reply.status == 200:
            return Health(True, None, reply.status)
        body = reply.body if isinstance(reply.body, dict) else {}
        return Health(False, str(body.get('reason') or body.get('detail') or body.get('status') or 'HTTP 503'), reply.status)

    def status(self) -> ServerStatus:
        return parse_status(self.client.request('GET', self.generation.status).json_object())

    def clear_l1(self, force: bool) -> None:
        generation = self.generation
        body = {'tier': 'l1', 'force': force} if generation.clear_takes_body else None
        reply = self.client.request('POST', generation.clear, json_body=body)
        answer = reply.body if isinstance(reply.body, dict) else {}
        if answer.get('status') not in (None, 'ok'):
            raise http_error(reply)

    def facts(self) -> t.Dict[str, t.Any]:
        """Fields every module returns about the server it talked to."""
        return dict(url=self.url, api_generation=self.generation.name, version=self.version)


def _gist(reply: Reply) -> str:
    text = server_error_text(reply.body, reply.text)
    return ' (%s)' % text if text else ''
