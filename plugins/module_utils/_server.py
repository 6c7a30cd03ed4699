# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The LMCache node and coordinator as objects: discovery once per task, then health, status, clear, quotas, deletes.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._answers import (
    MISSING,
    field,
    read_count,
    read_list,
    read_number,
    read_object,
    read_string,
    unreadable,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils import _engine
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    LMCacheClient,
    LMCacheError,
    LMCacheHTTPError,
    Reply,
    http_error,
    server_error_text,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import (
    CAPABILITY_ROUTES,
    ENGINE,
    ENGINE_GENERATION,
    FORCE_HONOURED_SINCE,
    ADMIN_ROUTES,
    GENERATIONS,
    SERVER,
    PROBE_METHOD,
    Discovery,
    DiscoveryCache,
    Generation,
    generation_from_routes,
    parse_version,
    routes_from_openapi,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import Health, Quota, ServerStatus, parse_status, read_quota
from ansible_collections.lmcache.kvcache.plugins.module_utils._metrics import COUNTED_FROM_ZERO_SINCE, ENGINE_COUNTERS, cache_hits
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import Untrusted, path_segment


class KindChanged(Exception):
    """A discovery from the fan-out's cache named the wrong kind of node: a server and an engine of one release report
    one version. Raised after a route it named answered 404, so nothing was done; the operation starts again on the
    node's own discovery (_runner.execute), from the top: an engine may be a pod's scheduler."""


class LMCacheServer:
    """One LMCache MP server (a node), its API discovered once per task."""

    def __init__(self, client: LMCacheClient, discoveries: t.Optional[DiscoveryCache] = None) -> None:
        self.client = client
        self._discovery: t.Optional[Discovery] = None
        self._version: t.Any = MISSING
        self._discoveries = discoveries
        self._threads: t.Optional[t.Dict[str, t.Any]] = None
        # Whether the discovery came from the fan-out's cache (another endpoint of the same version): an engine and a
        # server of one release report one version, so a route the cached one names that answers 404 discovers anew.
        self._cached = False

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
        return None if self._version is MISSING else self._version

    @property
    def generation(self) -> Generation:
        return self.discovery.generation

    def reads_ahead(self, reads: t.Callable[[Discovery], t.List[str]]) -> t.List[str]:
        """GET /version and the `reads` of the release the fan-out has seen alone so far, to be sent at once: on a fleet
        of one release, the reads an operation starts with cost no round trip of their own. [] for a first endpoint, a
        mixed fleet, a single task."""
        likely = self._discoveries.only() if self._discoveries is not None and self._discovery is None else None
        return ['/version'] + reads(likely) if likely is not None else []

    def _discover_by_version(self) -> Discovery:
        """The version first (G2 and later have /version), then the route list, unless a release seen before by this
        task (the fan-out shares a cache) already gave it."""
        reply = self.client.request('GET', '/version', accept=(404, 405))
        version = None
        if reply.status == 200:
            if not isinstance(reply.body, str) or not reply.body.strip():
                raise unreadable(reply, 'the version', reply.body if reply.is_json else reply.text, 'a version string')
            version = reply.body
        cached = self._discoveries.get(version) if version and self._discoveries is not None else None
        self._cached = cached is not None
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
            routes = routes_from_openapi(paths)
            generation = generation_from_routes(routes)
            if generation is None:
                raise LMCacheError(
                    '%s does not look like an LMCache server or engine: its /openapi.json lists none of the clear '
                    'routes %s' % (self.url, _clear_routes()))
            return Discovery(generation, routes, 'openapi')
        # No usable route list (docs turned off, a proxy in front). An engine answers its /meta; a server's clear route
        # exists when a GET to it is answered 405 (FastAPI: the route is there with another method), not 404.
        if self.client.request('GET', ENGINE_GENERATION.health, accept=(404, 405)).status == 200 \
                and self.client.request('GET', '/meta', accept=(404, 405)).status == 200:
            routes = {ENGINE_GENERATION.health: frozenset(['get']), '/meta': frozenset(['get']),
                      '/metrics': frozenset(['get']), '/conf': frozenset(['get']),
                      ENGINE_GENERATION.clear: frozenset(['delete'])}
            return Discovery(ENGINE_GENERATION, routes, 'probe')
        for generation in GENERATIONS:
            if generation.kind != SERVER:
                continue
            probe = self.client.request('GET', generation.clear, accept=(404, 405))
            if probe.status == 405:
                routes = {generation.health: frozenset(['get']), generation.status: frozenset(['get']),
                          generation.clear: frozenset(['post'])}
                return Discovery(generation, routes, 'probe')
        raise LMCacheError(
            '%s does not look like an LMCache server or engine: GET %s answered HTTP %d%s, and none of %s exists there'
            % (self.url, reply.url, reply.status, _gist(reply), _clear_routes()))

    @property
    def version(self) -> t.Optional[str]:
        """The server's version string where it tells it (G2 and later), else None."""
        self.discovery  # pylint: disable=pointless-statement
        return self._version

    def describe(self) -> str:
        """'http://h:8080 (LMCache 0.5.6-g3e11e108, API G3)', for messages; an engine is said to be one."""
        if self.kind == ENGINE:
            return '%s (LMCache engine %s, inside vLLM)' % (self.url, self.version or self.generation.releases)
        return '%s (LMCache %s, API %s)' % (self.url, self.version or self.generation.releases, self.generation.name)

    @property
    def kind(self) -> str:
        """'server' (lmcache server) or 'engine' (LMCache inside vLLM, its internal API server)."""
        return self.generation.kind

    def _fresh(self, attempt: t.Callable[[], t.Any]) -> t.Any:
        """attempt(), once more after a full discovery when a route of a discovery taken from the fan-out's cache is
        not there (HTTP 404: nothing was done), and so the endpoint is another kind of the same release."""
        try:
            return attempt()
        except LMCacheHTTPError as exc:
            if exc.status != 404 or not self._cached:
                raise
        kind = self.kind
        self._cached = False
        self._discovery = self._discover()
        if self.kind != kind:
            raise KindChanged(self.url)
        return attempt()

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

    def engine_meta(self) -> t.Optional[t.Dict[str, t.Any]]:
        """An engine's /meta (its model and place in the pod); None for a server."""
        return t.cast(t.Optional[t.Dict[str, t.Any]], self._fresh(lambda: _engine.meta(self.client) if self.kind == ENGINE else None))

    def health(self) -> Health:
        """A starting server's 503 is an answer here, not a failure. An engine's health is its periodic threads'."""
        return t.cast(Health, self._fresh(self._health))

    def periodic_threads(self) -> t.Dict[str, t.Any]:
        """The node's periodic threads' health (read once per task): {healthy, unhealthy: [names]}."""
        if self._threads is None:
            self.require('periodic_threads', 'report its periodic threads\' health')
            self._threads = _engine.periodic_threads(self.client)
        return self._threads

    def _health(self) -> Health:
        if self.kind == ENGINE:
            # An engine has no health route of its own: its health is its periodic threads'.
            threads = self.periodic_threads()
            return Health(threads['healthy'], _engine.threads_reason(threads), 200)
        reply = self.client.request('GET', self.generation.health, accept=(503,))
        if reply.status == 200:
            return Health(True, None, reply.status)
        body = reply.body if isinstance(reply.body, dict) else {}
        reason = body.get('reason') or body.get('detail') or body.get('status')
        return Health(False, str(reason) if reason else 'HTTP 503 %s' % reply.reason, reply.status)

    def status(self) -> ServerStatus:
        return t.cast(ServerStatus, self._fresh(self._status))

    def _status(self) -> ServerStatus:
        if self.kind == ENGINE:
            return _engine.status(self.client)
        return parse_status(self.client.request('GET', self.generation.status))

    def clear_l1(self, force: bool) -> None:
        generation = self.generation
        if self.kind == ENGINE:
            _engine.clear(self.client)
            return
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

    # -- counters and exposure ---------------------------------------------------------------------------------------

    def cache_hits(self, per_tenant: bool) -> t.Tuple[t.Dict[str, t.Any], t.Dict[str, str]]:
        """The cache's counters and hit ratios from GET /metrics (G3), and why a counter is null (see _metrics)."""
        path = self.require('metrics', 'report cache hits')
        reply = self.client.request('GET', path)
        version = parse_version(self.version)
        try:
            if self.kind == ENGINE:
                # The engine's counters (prometheus_client) are there from its start: one not there is not counted.
                return cache_hits(reply.text, False, per_tenant, ENGINE_COUNTERS)
            return cache_hits(reply.text, version is not None and version >= COUNTED_FROM_ZERO_SINCE, per_tenant)
        except Untrusted as exc:
            raise LMCacheError('GET %s: cannot read the counters: %s' % (reply.url, exc))

    def exposure(self, keyless: LMCacheClient) -> t.Dict[str, t.List[str]]:
        """Which administrative routes (ADMIN_ROUTES) this node serves to anyone: each route the node lists is asked
        with PROBE_METHOD and no key (`keyless`: a client of this node without one). 405: exposed; 401 or 403:
        protected; anything else, or a route that takes PROBE_METHOD (never probed), is unclear, with why."""
        found: t.Dict[str, t.List[str]] = dict(exposed=[], protected=[], unclear=[])
        statuses: t.Dict[str, int] = {}
        for method, path in ADMIN_ROUTES:
            methods = self.discovery.routes.get(path, ())
            if method.lower() not in methods:
                continue
            route = '%s %s' % (method, path)
            if PROBE_METHOD.lower() in methods:
                found['unclear'].append('%s (it takes %s: not probed)' % (route, PROBE_METHOD))
                continue
            if path not in statuses:
                probe = re.sub(r'\{[^}]*\}', 'lmcache-kvcache-audit', path)
                statuses[path] = keyless.request(PROBE_METHOD, probe, write=False, accept=range(300, 600)).status
            status = statuses[path]
            if status == 405:
                found['exposed'].append(route)
            elif status in (401, 403):
                found['protected'].append(route)
            else:
                found['unclear'].append('%s (HTTP %d to the probe)' % (route, status))
        return found

    # -- quotas (0.4.5 and later) --------------------------------------------------------------------------------

    def quotas(self) -> t.Dict[str, Quota]:
        self.require('quota', 'manage quotas')
        reply = self.client.request('GET', '/quota')
        users = read_object(reply, reply.json_object(), 'users')
        return dict((salt, read_quota(reply, salt, entry, 'users[%r].' % salt)) for salt, entry in users.items())

    def quota(self, salt: str) -> t.Optional[Quota]:
        self.require('quota', 'manage quotas')
        reply = self.client.request('GET', '/quota/%s' % path_segment(salt, 'cache_salt'), accept=(404,))
        if reply.status == 404:
            return None
        body = reply.json_object()
        if field(body, 'exists') is False:
            return None
        return read_quota(reply, salt, body, '')

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


# A registration list larger than this is not one coordinator's (10,000 instances are about 3 MB).
MAX_REGISTRATIONS_BYTES = 64 * 1024 * 1024


def coordinator_registrations(client: LMCacheClient, usage: bool) -> t.Tuple[t.List[t.Any], t.List[t.Any]]:
    """A coordinator's GET /instances, and with `usage` its GET /instances/usage, as the raw entries: each one is for
    _models.check_registrations to check (anything that can reach a coordinator can register)."""
    reply = client.request('GET', '/instances', max_bytes=MAX_REGISTRATIONS_BYTES)
    instances = read_list(reply, reply.json_object(), 'instances')
    if not usage:
        return instances, []
    answer = client.request('GET', '/instances/usage', max_bytes=MAX_REGISTRATIONS_BYTES)
    return instances, read_list(answer, answer.json_object(), 'instances')


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
    if status not in (MISSING, 'ok'):
        raise LMCacheError('PUT %s: %s answered status %r, expected "ok"' % (reply.url, who, status))


def delete_quota(client: LMCacheClient, salt: str) -> None:
    """DELETE /quota/{salt}; a quota already gone (404) is what was asked for."""
    client.request('DELETE', '/quota/%s' % path_segment(salt, 'cache_salt'), accept=(404,))


def _clear_routes() -> str:
    return ', '.join('%s %s' % (g.clear_method, g.clear) for g in GENERATIONS)


def _gist(reply: Reply) -> str:
    text = server_error_text(reply.body, reply.text)
    return ' (%s)' % text if text else ''
