# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What an LMCache node offers, and the operations on it, whatever its API generation.

Every value read from a server goes through the readers below: a value that is missing where it is needed, of
the wrong type, or out of range is an error that names the field and the URL, never a silent 0.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import math
import re
import threading
import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    LMCacheClient,
    LMCacheError,
    Reply,
    http_error,
    server_error_text,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import json_type, path_segment, shown


class Generation:
    """The routes of one generation of the LMCache MP server HTTP API."""

    def __init__(self, name: str, releases: str, health: str, status: str, clear: str, clear_takes_body: bool,
                 offers: t.Iterable[str] = ()) -> None:
        self.name = name
        self.releases = releases
        self.health = health
        self.status = status
        self.clear = clear
        # Only G3 takes a body on clear; G1 and G2 always force-clear.
        self.clear_takes_body = clear_takes_body
        # The optional capabilities the generation's latest releases publish (for the docs: the modules themselves
        # read every server's own /openapi.json).
        self.offers = frozenset(offers)


# One table of routes per generation. Everything that differs between generations is here.
GENERATIONS = (
    Generation('G3', '0.5.1 and later', health='/healthcheck', status='/status', clear='/cache/clear', clear_takes_body=True,
               offers=('version', 'config', 'metrics', 'l2_objects', 'object_delete', 'l2_adapters', 'quota', 'prefetch')),
    Generation('G2', '0.4.5 - 0.5.0', health='/healthcheck', status='/status', clear='/clear-cache', clear_takes_body=False,
               offers=('version', 'config', 'l2_objects', 'l2_adapters', 'quota')),
    Generation('G1', '0.4.1 - 0.4.4', health='/api/healthcheck', status='/api/status', clear='/api/clear-cache', clear_takes_body=False),
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
}

# From this release on, G3 honours force=false (clears only objects that are safe to remove).
FORCE_HONOURED_SINCE = (0, 5, 6)


def parse_version(version: t.Optional[str]) -> t.Optional[t.Tuple[int, int, int]]:
    """'0.5.6-g3e11e108' or '0.5.7rc3.dev0-gbf85b41fa' -> (0, 5, 6) / (0, 5, 7)."""
    match = re.match(r'^v?(\d+)\.(\d+)\.(\d+)', version or '')
    return (int(match.group(1)), int(match.group(2)), int(match.group(3))) if match else None


# -- readers: a value from a server, or an error that names it ------------------------------------------------------

_MISSING = object()


def field(body: t.Any, path: str) -> t.Any:
    """body['a']['b'] for path 'a.b'; _MISSING where a level is absent."""
    value = body
    for part in path.split('.'):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _unreadable(reply: Reply, path: str, value: t.Any, expected: str) -> LMCacheError:
    described = 'missing' if value is _MISSING else '%s (%s)' % (shown(value), json_type(value))
    return LMCacheError('%s %s: cannot read %s from the answer: %s, expected %s'
                        % (reply.method, reply.url, path, described, expected))


def read_count(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.Optional[int]:
    """A whole number of 0 or more (a JSON integer, or a number with no fraction). `name` is shown in errors."""
    value = field(body, path)
    if optional and (value is _MISSING or value is None):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise _unreadable(reply, name or path, value, 'a whole number of 0 or more')
    return value


def read_number(reply: Reply, body: t.Any, path: str, optional: bool = False, low: float = 0.0,
                high: t.Optional[float] = None, name: t.Optional[str] = None) -> t.Optional[float]:
    value = field(body, path)
    if optional and (value is _MISSING or value is None):
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or math.isnan(value) or value < low \
            or (high is not None and value > high):
        raise _unreadable(reply, name or path, value,
                          'a number from %s%s' % (low, ' to %s' % high if high is not None else ''))
    return float(value)


def read_string(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.Optional[str]:
    value = field(body, path)
    if optional and (value is _MISSING or value is None):
        return None
    if not isinstance(value, str):
        raise _unreadable(reply, name or path, value, 'a string')
    return value


def read_list(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.List[t.Any]:
    value = field(body, path)
    if optional and (value is _MISSING or value is None):
        return []
    if not isinstance(value, list):
        raise _unreadable(reply, name or path, value, 'a list')
    return value


def read_object(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    value = field(body, path)
    if optional and (value is _MISSING or value is None):
        return {}
    if not isinstance(value, dict):
        raise _unreadable(reply, name or path, value, 'an object')
    return value


# -- what a node reports ----------------------------------------------------------------------------------------------

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


class Health:
    def __init__(self, healthy: bool, reason: t.Optional[str], status: int) -> None:
        self.healthy = healthy
        # The server's own words when it is not healthy.
        self.reason = reason
        self.status = status


class L1Usage:
    def __init__(self, objects: int, bytes_used: int, bytes_total: int, usage_ratio: t.Optional[float],
                 locked_objects: t.Optional[int] = None) -> None:
        self.objects = objects
        self.bytes_used = bytes_used
        self.bytes_total = bytes_total
        self.usage_ratio = usage_ratio
        # Objects in-flight requests are reading or writing; a clear without force keeps them (0.5.6 and later).
        self.locked_objects = locked_objects

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(objects=self.objects, bytes_used=self.bytes_used, bytes_total=self.bytes_total,
                    usage_ratio=self.usage_ratio)

    def counts(self) -> t.Dict[str, int]:
        return dict(objects=self.objects, bytes_used=self.bytes_used)


class ServerStatus:
    """The parts of `/status` the collection uses, read the same way on every generation."""

    def __init__(self, chunk_size: t.Optional[int], active_sessions: t.Optional[int], l1: L1Usage,
                 eviction_watermark: t.Optional[float], l2_adapters: t.List[t.Dict[str, t.Any]]) -> None:
        self.chunk_size = chunk_size
        self.active_sessions = active_sessions
        self.l1 = l1
        self.eviction_watermark = eviction_watermark
        self.l2_adapters = l2_adapters


def parse_status(reply: Reply) -> ServerStatus:
    body = reply.json_object()
    # Every generation has `l1_manager`; 0.5.6 adds per-backend `l1_managers` whose `_default` is the same one.
    if isinstance(field(body, 'storage_manager.l1_manager'), dict):
        l1 = _parse_l1(reply, body, ['storage_manager.l1_manager'])
    elif not isinstance(field(body, 'storage_manager.l1_managers'), dict):
        raise _unreadable(reply, 'storage_manager.l1_manager', field(body, 'storage_manager.l1_manager'),
                          'an object with the L1 counts')
    else:
        names = sorted(field(body, 'storage_manager.l1_managers'))
        if not names:
            raise _unreadable(reply, 'storage_manager.l1_managers', {}, 'at least one L1 manager')
        l1 = _parse_l1(reply, body, ['storage_manager.l1_managers.%s' % name for name in names])
    watermark = read_number(reply, body, 'storage_manager.l1_eviction_controller.trigger_watermark', optional=True, high=1.0)
    adapters = read_list(reply, body, 'storage_manager.l2_adapters', optional=True)
    return ServerStatus(
        chunk_size=read_count(reply, body, 'chunk_size', optional=True),
        active_sessions=read_count(reply, body, 'active_sessions', optional=True),
        l1=l1,
        eviction_watermark=watermark,
        l2_adapters=[a for a in adapters if isinstance(a, dict)],
    )


def _parse_l1(reply: Reply, body: t.Any, managers: t.List[str]) -> L1Usage:
    objects = used = total = 0
    locked: t.Optional[int] = 0
    for manager in managers:
        objects += t.cast(int, read_count(reply, body, manager + '.total_object_count'))
        used += t.cast(int, read_count(reply, body, manager + '.memory_used_bytes'))
        total += t.cast(int, read_count(reply, body, manager + '.memory_total_bytes'))
        write_locked = read_count(reply, body, manager + '.write_locked_count', optional=True)
        read_locked = read_count(reply, body, manager + '.read_locked_count', optional=True)
        if write_locked is None and read_locked is None:
            locked = None
        elif locked is not None:
            locked += (write_locked or 0) + (read_locked or 0)
    if used > total > 0:
        raise _unreadable(reply, managers[0] + '.memory_used_bytes', used, 'at most memory_total_bytes (%d)' % total)
    ratio = (float(used) / total) if total else None
    return L1Usage(objects, used, total, ratio, min(locked, objects) if locked is not None else None)


class Quota:
    def __init__(self, cache_salt: str, limit_gb: t.Optional[float], usage_gb: t.Optional[float]) -> None:
        self.cache_salt = cache_salt
        self.limit_gb = limit_gb
        self.usage_gb = usage_gb

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(cache_salt=self.cache_salt, limit_gb=self.limit_gb, current_usage_gb=self.usage_gb)


def _routes_from_openapi(paths: t.Mapping[str, t.Any]) -> t.Dict[str, t.FrozenSet[str]]:
    return dict((path, frozenset(m.lower() for m in (ops if isinstance(ops, dict) else {})))
                for path, ops in paths.items())


def _generation_from_routes(routes: t.Mapping[str, t.FrozenSet[str]]) -> t.Optional[Generation]:
    for generation in GENERATIONS:
        if generation.clear in routes:
            return generation
    return None


class DiscoveryCache:
    """Discoveries by exact version string, shared by the endpoints of one fan-out: a fleet mostly runs one release,
    and its route list need not be fetched and parsed a thousand times. Servers that report no version are always
    discovered in full."""

    def __init__(self) -> None:
        self._by_version: t.Dict[str, Discovery] = {}
        self._lock = threading.Lock()

    def get(self, version: str) -> t.Optional[Discovery]:
        with self._lock:
            return self._by_version.get(version)

    def put(self, version: str, discovery: Discovery) -> None:
        if discovery.source == 'openapi':
            with self._lock:
                self._by_version.setdefault(version, discovery)


class LMCacheServer:
    """One LMCache MP server (a node), its API discovered once per task."""

    def __init__(self, client: LMCacheClient, discoveries: t.Optional[DiscoveryCache] = None) -> None:
        self.client = client
        self._discovery: t.Optional[Discovery] = None
        self._version: t.Any = _MISSING
        self._discoveries = discoveries

    @property
    def url(self) -> str:
        return self.client.display_url

    @property
    def discovery(self) -> Discovery:
        if self._discovery is None:
            self._discovery = self._discover_by_version()
        return self._discovery

    @property
    def known_generation_name(self) -> t.Optional[str]:
        """The generation if discovery has already run; never sends a request (used when reporting failures)."""
        return self._discovery.generation.name if self._discovery else None

    @property
    def known_version(self) -> t.Optional[str]:
        return None if self._version is _MISSING else self._version

    @property
    def generation(self) -> Generation:
        return self.discovery.generation

    def _discover_by_version(self) -> Discovery:
        """The version first (G2 and later have /version), then the route list, unless a release seen before by this
        task (the fan-out shares a cache) already gave it."""
        reply = self.client.request('GET', '/version', accept=(404, 405))
        version = None
        if reply.status == 200:
            if not isinstance(reply.body, str) or not reply.body.strip():
                raise _unreadable(reply, 'the version', reply.body if reply.is_json else reply.text, 'a version string')
            version = reply.body
        cached = self._discoveries.get(version) if version and self._discoveries is not None else None
        discovery = cached or self._discover()
        self._version = version if discovery.has('version') else None
        if version and self._discoveries is not None and cached is None and discovery.has('version'):
            self._discoveries.put(version, discovery)
        return discovery

    def _discover(self) -> Discovery:
        # 401 is raised as is: without a key nothing else would work either.
        reply = self.client.request('GET', '/openapi.json', accept=(404, 405, 500), max_bytes=4 * 1024 * 1024)
        paths = field(reply.body, 'paths')
        if reply.status == 200 and isinstance(paths, dict):
            routes = _routes_from_openapi(paths)
            generation = _generation_from_routes(routes)
            if generation is None:
                raise LMCacheError(
                    '%s does not look like an LMCache server: its /openapi.json lists none of the clear routes %s'
                    % (self.url, ', '.join(g.clear for g in GENERATIONS)))
            return Discovery(generation, routes, 'openapi')
        # No usable route list (docs turned off, a proxy in front): ask each generation's clear route with a GET.
        # FastAPI answers 405 for a route that exists with another method, 404 for one that does not.
        for generation in GENERATIONS:
            probe = self.client.request('GET', generation.clear, accept=(404, 405))
            if probe.status == 405:
                routes = {generation.health: frozenset(['get']), generation.status: frozenset(['get']),
                          generation.clear: frozenset(['post'])}
                return Discovery(generation, routes, 'probe')
        raise LMCacheError(
            '%s does not look like an LMCache server: GET %s answered HTTP %d%s, and none of %s exists there'
            % (self.url, reply.url, reply.status, _gist(reply), ', '.join(g.clear for g in GENERATIONS)))

    @property
    def version(self) -> t.Optional[str]:
        """The server's version string where it tells it (G2 and later), else None."""
        self.discovery  # pylint: disable=pointless-statement
        return self._version

    def describe(self) -> str:
        """'http://h:8080 (LMCache 0.5.6-g3e11e108, API G3)', for messages."""
        return '%s (LMCache %s, API %s)' % (self.url, self.version or self.generation.releases, self.generation.name)

    @property
    def force_honoured(self) -> bool:
        """Whether a clear with force=false really spares locked objects on this server."""
        version = parse_version(self.version)
        return self.generation.clear_takes_body and version is not None and version >= FORCE_HONOURED_SINCE

    def require(self, capability: str, what: str) -> str:
        """The route of `capability`; an error naming the server, its release and what is missing otherwise."""
        path = self.discovery.route(capability)
        if path is None:
            raise LMCacheError('%s cannot %s: it has no %s endpoint (%s)' % (
                self.describe(), what, capability,
                ' or '.join('%s %s' % (m.upper(), p) for m, p in CAPABILITY_ROUTES[capability])))
        return path

    def health(self) -> Health:
        """A starting server's 503 is an answer here, not a failure."""
        reply = self.client.request('GET', self.generation.health, accept=(503,))
        if reply.status == 200:
            return Health(True, None, reply.status)
        body = reply.body if isinstance(reply.body, dict) else {}
        reason = body.get('reason') or body.get('detail') or body.get('status')
        return Health(False, str(reason) if reason else 'HTTP 503 %s' % reply.reason, reply.status)

    def status(self) -> ServerStatus:
        return parse_status(self.client.request('GET', self.generation.status))

    def clear_l1(self, force: bool) -> None:
        generation = self.generation
        body = {'tier': 'l1', 'force': force} if generation.clear_takes_body else None
        reply = self.client.request('POST', generation.clear, json_body=body)
        answer = reply.body if isinstance(reply.body, dict) else {}
        if answer.get('status') not in (None, 'ok'):
            raise http_error(reply)

    def l2_adapters(self) -> t.Optional[t.List[t.Dict[str, t.Any]]]:
        """The node's L2 adapters from /config/adapters (G3), or None where the node has no such route."""
        if self.discovery.route('l2_adapters') != '/config/adapters':
            return None
        reply = self.client.request('GET', '/config/adapters')
        adapters = read_list(reply, reply.json_object(), 'adapters')
        return [dict(index=read_count(reply, a, 'index', optional=True), type=read_string(reply, a, 'type_name', optional=True),
                     tier=read_string(reply, a, 'tier', optional=True), primary=bool(a.get('primary')))
                for a in adapters if isinstance(a, dict)]

    # -- quotas (0.4.5 and later) --------------------------------------------------------------------------------

    def quotas(self) -> t.Dict[str, Quota]:
        self.require('quota', 'manage quotas')
        reply = self.client.request('GET', '/quota')
        users = read_object(reply, reply.json_object(), 'users')
        return dict((salt, _quota(reply, salt, entry, 'users[%r].' % salt)) for salt, entry in users.items())

    def quota(self, salt: str) -> t.Optional[Quota]:
        self.require('quota', 'manage quotas')
        reply = self.client.request('GET', '/quota/%s' % path_segment(salt, 'cache_salt'), accept=(404,))
        if reply.status == 404:
            return None
        body = reply.json_object()
        if field(body, 'exists') is False:
            return None
        return _quota(reply, salt, body, '')

    def set_quota(self, salt: str, limit_gb: float) -> None:
        self.require('quota', 'manage quotas')
        put_quota(self.client, salt, limit_gb, 'the server')

    def remove_quota(self, salt: str) -> None:
        self.require('quota', 'manage quotas')
        delete_quota(self.client, salt)

    # -- key-addressed deletes (G3) ------------------------------------------------------------------------------

    def delete_objects(self, keys: t.List[t.Dict[str, t.Any]], tier: str, force: bool) -> t.Dict[str, t.Any]:
        self.require('object_delete', 'delete cached objects by key')
        reply = self.client.request('DELETE', '/cache/objects', json_body=dict(keys=keys, tier=tier, force=force))
        body = reply.json_object()
        if field(body, 'ok') is False:
            raise LMCacheError('DELETE %s: the node answered ok=false: %s' % (reply.url, server_error_text(body, reply.text)))
        return body


class CoordinatorQuotas:
    """Fleet-wide per-tenant quotas on an LMCache coordinator (0.5.7 and later; the L2 tier, across every node)."""

    def __init__(self, client: LMCacheClient) -> None:
        self.client = client

    def quota(self, salt: str) -> t.Optional[Quota]:
        reply = self.client.request('GET', '/quota/%s' % path_segment(salt, 'cache_salt'), accept=(404,))
        if reply.status == 404:
            raise LMCacheError('the coordinator %s has no quota routes (LMCache 0.5.7 and later have them): GET %s answered '
                               'HTTP 404' % (self.client.display_url, reply.url))
        body = reply.json_object()
        if field(body, 'quota_exists') is not True:
            return None
        return Quota(salt, read_number(reply, body, 'quota_limit_gb'), read_number(reply, body, 'usage_gb', optional=True))

    def set_quota(self, salt: str, limit_gb: float) -> None:
        put_quota(self.client, salt, limit_gb, 'the coordinator')

    def remove_quota(self, salt: str) -> None:
        delete_quota(self.client, salt)


def put_quota(client: LMCacheClient, salt: str, limit_gb: float, who: str) -> None:
    """PUT /quota/{salt}, the same route on a node (0.4.5 and later) and on a coordinator (0.5.7 and later)."""
    reply = client.request('PUT', '/quota/%s' % path_segment(salt, 'cache_salt'), json_body={'limit_gb': limit_gb})
    status = field(reply.body, 'status')
    if status not in (_MISSING, 'ok'):
        raise LMCacheError('PUT %s: %s answered status %r, expected "ok"' % (reply.url, who, status))


def delete_quota(client: LMCacheClient, salt: str) -> None:
    """DELETE /quota/{salt}; a quota already gone (404) is what was asked for."""
    client.request('DELETE', '/quota/%s' % path_segment(salt, 'cache_salt'), accept=(404,))


def _quota(reply: Reply, salt: str, entry: t.Any, prefix: str) -> Quota:
    """One tenant's quota; `prefix` locates it in the answer for error messages."""
    if not isinstance(entry, dict):
        raise _unreadable(reply, prefix.rstrip('.') or 'the quota', entry, 'an object')
    return Quota(salt, read_number(reply, entry, 'limit_gb', optional=True, name=prefix + 'limit_gb'),
                 read_number(reply, entry, 'current_usage_gb', optional=True, name=prefix + 'current_usage_gb'))


def _gist(reply: Reply) -> str:
    text = server_error_text(reply.body, reply.text)
    return ' (%s)' % text if text else ''
