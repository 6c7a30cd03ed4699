# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The generations of the LMCache server HTTP API: their routes, the optional capabilities, and what a node offers.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import functools
import re
import typing as t


SERVER = 'server'
ENGINE = 'engine'


class Generation:
    """The routes of one generation of an LMCache HTTP API: the `lmcache server` node's (kind server), or the internal
    API server of the LMCache engine inside vLLM (kind engine), which has no /healthcheck and no /status."""

    def __init__(self, name: str, releases: str, health: str, status: str, clear: str, clear_takes_body: bool,
                 offers: t.Iterable[str] = (), kind: str = SERVER, clear_method: str = 'POST') -> None:
        self.name = name
        self.releases = releases
        self.health = health
        self.status = status
        self.clear = clear
        self.clear_method = clear_method
        # Only G3 takes a body on clear; G1 and G2 always force-clear.
        self.clear_takes_body = clear_takes_body
        # The optional capabilities the generation's latest releases publish (for the docs: the modules themselves
        # read every server's own /openapi.json).
        self.offers = frozenset(offers)
        self.kind = kind


# One table of routes per generation. Everything that differs between generations is here. The engine's status is
# its /metrics (L1 objects and bytes) with its /conf (the L1 size); its health, its periodic threads' health.
ENGINE_GENERATION = Generation(
    'engine', '0.5.x, inside vLLM', health='/periodic-threads-health', status='/metrics', clear='/cache/clear',
    clear_takes_body=False, kind=ENGINE, clear_method='DELETE',
    offers=('version', 'config', 'metrics', 'engine_meta', 'freeze', 'hot_cache', 'bypass', 'backends',
            'runtime_config', 'periodic_threads', 'loglevel'))
# The servers' generations, newest first; then the engine's.
GENERATIONS = (
    Generation('G3', '0.5.1 and later', health='/healthcheck', status='/status', clear='/cache/clear', clear_takes_body=True,
               offers=('version', 'config', 'metrics', 'l2_objects', 'object_delete', 'l2_adapters', 'quota', 'prefetch',
                       'periodic_threads', 'loglevel')),
    Generation('G2', '0.4.5 - 0.5.0', health='/healthcheck', status='/status', clear='/clear-cache', clear_takes_body=False,
               offers=('version', 'config', 'metrics', 'l2_objects', 'l2_adapters', 'quota', 'periodic_threads', 'loglevel')),
    Generation('G1', '0.4.1 - 0.4.4', health='/api/healthcheck', status='/api/status', clear='/api/clear-cache', clear_takes_body=False),
    ENGINE_GENERATION,
)


GENERATION_BY_NAME = dict((g.name, g) for g in GENERATIONS)


# Optional endpoints worth knowing about, by the name the collection reports them under: (method, path) pairs, any
# of which offers it. The per-request ones are the `lmcache kvcache` design's (no release has them yet; both
# spellings the design used).
CAPABILITY_ROUTES: t.Dict[str, t.Tuple[t.Tuple[str, str], ...]] = {
    'version': (('get', '/version'),),
    'config': (('get', '/config'), ('get', '/conf')),
    'metrics': (('get', '/metrics'),),
    'l2_objects': (('get', '/cache/objects'), ('get', '/l2/keys')),
    'object_delete': (('delete', '/cache/objects'),),
    'l2_adapters': (('get', '/config/adapters'), ('get', '/l2/adapters')),
    'quota': (('get', '/quota'),),
    'prefetch': (('post', '/cache/prefetches'),),
    'kvcache_info': (('get', '/kvcache-info'), ('get', '/api/kvcache-info')),
    'pin': (('post', '/pin'), ('post', '/api/pin')),
    'compress': (('post', '/compress'), ('post', '/api/compress')),
    'kvcache_clear': (('post', '/kvcache-clear'), ('post', '/api/kvcache-clear')),
    # The engine's (LMCache inside vLLM): its model and place in the pod, and the state an operator may declare.
    'engine_meta': (('get', '/meta'),),
    'freeze': (('put', '/freeze/enable'),),
    'hot_cache': (('put', '/hot_cache/enable'),),
    'bypass': (('put', '/bypass/add'),),
    'backends': (('get', '/backends'),),
    'runtime_config': (('post', '/conf'),),
    'periodic_threads': (('get', '/periodic-threads-health'),),
    # Servers (0.5.0 and later) and engines: a logger's level, read and set at runtime.
    'loglevel': (('get', '/loglevel'),),
}


# The administrative routes an exposure audit asks about, on any generation or the design (only those a node's own
# /openapi.json lists are probed): who can reach them without a key can run code, read the environment (keys and
# tokens included), change logging, reset the counters, drop or load cache, change quotas or the storage setup.
ADMIN_ROUTES: t.Tuple[t.Tuple[str, str], ...] = (
    ('POST', '/run_script'), ('GET', '/env'), ('GET', '/loglevel'), ('POST', '/metrics/reset'),
    ('POST', '/cache/clear'), ('POST', '/clear-cache'), ('POST', '/api/clear-cache'), ('DELETE', '/cache/objects'),
    ('POST', '/cache/prefetches'), ('POST', '/cache/checksums'), ('DELETE', '/l2'),
    ('PUT', '/quota/{cache_salt}'), ('DELETE', '/quota/{cache_salt}'),
    ('POST', '/reconfigure/{backend}/{operation}'), ('POST', '/reconfigure/{backend}/l2/{operation}'),
    ('POST', '/reconfigure/dax/l1/add'), ('POST', '/reconfigure/dax/l1/remove'),
    ('POST', '/pin'), ('DELETE', '/pin'), ('POST', '/compress'), ('POST', '/kvcache-clear'),
    # The engine's: drop or store cache, stop stores, change its backends and its configuration.
    ('DELETE', '/cache/clear'), ('POST', '/cache/store'), ('POST', '/cache/load-fs-chunks'), ('PUT', '/freeze/enable'),
    ('PUT', '/freeze/disable'), ('PUT', '/hot_cache/disable'), ('PUT', '/bypass/add'), ('POST', '/conf'),
    ('POST', '/backends'), ('DELETE', '/backends/{backend_name}'), ('POST', '/backends/{backend_name}/recreate'),
)
# The method of the audit's probe: one no LMCache route takes, so no handler runs. A node that checks keys before
# routing (0.5.7 with a key) answers 401; one that does not answers 405, which says the route is there for anyone.
PROBE_METHOD = 'PATCH'

# From this release on, G3 honours force=false (clears only objects that are safe to remove).
FORCE_HONOURED_SINCE = (0, 5, 6)


_VERSION = re.compile(r'v?(\d+)\.(\d+)\.(\d+)')


@functools.lru_cache(maxsize=64)
def parse_version(version: t.Optional[str]) -> t.Optional[t.Tuple[int, int, int]]:
    """'0.5.6-g3e11e108' or '0.5.7rc3.dev0-gbf85b41fa' -> (0, 5, 6) / (0, 5, 7). Cached: a fan-out asks it of the
    same few version strings for every node."""
    match = _VERSION.match(version or '')
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


class Discovery:
    """A node's generation and routes, as read from /openapi.json (or probed)."""

    def __init__(self, generation: Generation, routes: t.Mapping[str, t.FrozenSet[str]], source: str) -> None:
        self.generation = generation
        # path -> methods (lower case)
        self.routes = routes
        # How the generation was found: 'openapi' (the route list) or 'probe' (fallback, no route list).
        self.source = source

    @property
    def capabilities(self) -> t.List[str]:
        return sorted(name for name in CAPABILITY_ROUTES if self.route(name))

    def has(self, capability: str) -> bool:
        return self.route(capability) is not None

    def route(self, capability: str) -> t.Optional[str]:
        """The path serving `capability` on this server, or None."""
        for method, path in CAPABILITY_ROUTES[capability]:
            if method in self.routes.get(path, ()):
                return path
        return None


def routes_from_openapi(paths: t.Mapping[str, t.Any]) -> t.Dict[str, t.FrozenSet[str]]:
    return dict((path, frozenset(m.lower() for m in (ops if isinstance(ops, dict) else {})))
                for path, ops in paths.items())


def generation_from_routes(routes: t.Mapping[str, t.FrozenSet[str]]) -> t.Optional[Generation]:
    """The generation whose clear route, with its method, the route list has (the engine's and G3's share a path)."""
    for generation in GENERATIONS:
        if generation.clear_method.lower() in routes.get(generation.clear, ()):
            return generation
    return None


class DiscoveryCache:
    """Discoveries by exact version string, shared by the endpoints of one fan-out: a fleet mostly runs one release,
    and its route list need not be fetched and parsed a thousand times. Servers that report no version are always
    discovered in full."""

    def __init__(self) -> None:
        # No lock: a dict's get and setdefault are atomic, and a fan-out's threads read it once per node.
        self._by_version: t.Dict[str, Discovery] = {}

    def get(self, version: str) -> t.Optional[Discovery]:
        return self._by_version.get(version)

    def only(self) -> t.Optional[Discovery]:
        """The discovery of the one release seen so far; None before the first, and once there are several. A guess of
        the next endpoint's release, never taken for its discovery (that comes from its own version)."""
        discoveries = list(self._by_version.values())
        return discoveries[0] if len(discoveries) == 1 else None

    def put(self, version: str, discovery: Discovery) -> None:
        if discovery.source == 'openapi':
            self._by_version.setdefault(version, discovery)
