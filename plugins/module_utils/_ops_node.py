# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Instance-wide operations on one node: server info, clear, per-tenant quotas. Each is an argument spec and a plan.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import math
import re
import typing as t
from urllib.parse import urlencode

from ansible.module_utils.common.text.formatters import bytes_to_human

from ansible_collections.lmcache.kvcache.plugins.module_utils import _engine
from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import ENGINE, Discovery
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import L1Usage, Quota
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import CoordinatorQuotas, LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    DeadlineExceeded, LMCacheClient, LMCacheError, plain_number, squash)
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Context, Operation, Plan
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import Target
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import masked_config

# A quota larger than this is not a quota (LMCache's own CLI takes GB; no host has a petabyte of cache).
MAX_QUOTA_GB = 1024.0 * 1024.0


class ServerInfo(Operation):
    """Health, version, generation, capabilities, L1 usage, L2 adapters, quotas, cache hits, exposure."""

    per_worker = True

    argument_spec = dict(
        hits=dict(type='bool', default=True),
        hits_per_tenant=dict(type='bool', default=False),
        audit=dict(type='bool', default=False),
        config=dict(type='bool', default=False),
    )

    reads_known = True

    def routes_read(self, discovery: Discovery) -> t.List[str]:
        generation = discovery.generation
        hits = self.params.get('hits', True) and discovery.has('metrics')
        config = discovery.route('config') if self.params.get('config') else None
        routes: t.List[t.Optional[str]]
        if generation.kind == ENGINE:
            routes = [_engine.THREADS_PATH] + _engine.read_paths(config) + ['/metrics' if hits else None]
        else:
            routes = [generation.health, _engine.THREADS_PATH if discovery.has('periodic_threads') else None, config,
                      generation.status, '/config/adapters' if discovery.route('l2_adapters') == '/config/adapters' else None,
                      '/quota' if discovery.has('quota') else None, '/metrics' if hits else None]
        return [route for route in routes if route]

    def read(self) -> t.Dict[str, t.Any]:
        node = self.node
        health = node.health()
        info: t.Dict[str, t.Any] = dict(
            healthy=health.healthy, health_reason=health.reason, health_status=health.status,
            version=node.version, capabilities=node.discovery.capabilities, chunk_size=None, l1=None,
            eviction_watermark=None, above_eviction_watermark=False, l2_adapters=[], active_sessions=None,
            quotas=None, prefetch_supported=node.discovery.has('prefetch'), hits=None, exposure=None, unavailable={},
            kind=node.kind, engine=None, threads=None, config=None)
        self._read_threads(info)
        if node.kind == ENGINE:
            info['engine'] = self._optional(info, 'engine', self._read_engine)
        if self.params.get('config'):
            info['config'] = self._read_config(info)
        if health.healthy:
            # A starting server has no engine yet and so no status to read. Health comes from the health and status
            # routes only: an informational route that fails costs its own field, never the host's health.
            self._read_status(info)
            if self.params.get('hits', True):
                self._read_hits(info)
        if self.params.get('audit'):
            keyless = self.ctx.connector.client(node.client.base_url, keyless=True)
            info['exposure'] = self._optional(info, 'exposure', lambda: node.exposure(keyless))
        return info

    def _read_threads(self, info: t.Dict[str, t.Any]) -> None:
        """The periodic threads' health (0.5.0 and later, engines): a node whose eviction loop or L2 store thread died
        still answers its health check, but is not healthy."""
        node = self.node
        if not node.discovery.has('periodic_threads'):
            info['unavailable']['threads'] = '%s has no GET /periodic-threads-health (LMCache 0.5.0 and later)' % node.describe()
            return
        info['threads'] = self._optional(info, 'threads', node.periodic_threads)
        reason = _engine.threads_reason(info['threads']) if info['threads'] else None
        if reason and info['healthy']:
            info.update(healthy=False, health_reason=reason)

    def _read_config(self, info: t.Dict[str, t.Any]) -> t.Optional[t.Dict[str, t.Any]]:
        """The configuration the node runs with (GET /config, /conf on 0.4.5 - 0.5.0 and engines), every value that may
        hold a secret masked; null with the reason where the node has no such route."""
        node = self.node
        path = node.discovery.route('config')
        if path is None:
            info['unavailable']['config'] = '%s has no GET /config or /conf (LMCache 0.4.5 and later)' % node.describe()
            return None
        return self._optional(info, 'config', lambda: masked_config(_engine.config(node.client, path=path)))

    def _read_engine(self) -> t.Dict[str, t.Any]:
        """An engine's model and place in its pod (/meta), and the state an operator declares with lmcache_engine."""
        client = self.node.client
        bypassed, backends = _engine.bypass(client)
        return dict(_engine.meta(client), freeze=_engine.flag(client, 'freeze'), hot_cache=_engine.flag(client, 'hot_cache'),
                    bypassed_backends=bypassed, backends=backends)

    def _read_status(self, info: t.Dict[str, t.Any]) -> None:
        node = self.node
        status = node.status()
        watermark, ratio = status.eviction_watermark, status.l1.usage_ratio
        adapters = self._optional(info, 'l2_adapters', node.l2_adapters)
        info.update(
            chunk_size=status.chunk_size, l1=status.l1.as_dict(), eviction_watermark=watermark,
            above_eviction_watermark=bool(watermark is not None and ratio is not None and ratio >= watermark),
            l2_adapters=adapters if adapters is not None or 'l2_adapters' in info['unavailable']
            else [_status_adapter(a) for a in status.l2_adapters],
            active_sessions=status.active_sessions)
        if node.discovery.has('quota'):
            info['quotas'] = self._optional(info, 'quotas', lambda: [
                q.as_dict() for q in sorted(node.quotas().values(), key=lambda q: q.cache_salt)])

    def _read_hits(self, info: t.Dict[str, t.Any]) -> None:
        """The cache's counters from /metrics; null with the reason on a node without it (G1, G2)."""
        if not self.node.discovery.has('metrics'):
            info['unavailable']['hits'] = '%s has no GET /metrics (LMCache 0.5.1 and later)' % self.node.describe()
            return
        read = self._optional(info, 'hits', lambda: self.node.cache_hits(self.params.get('hits_per_tenant', False)))
        if read is not None:
            info['hits'], missing = read
            info['unavailable'].update(('hits.%s' % name, reason) for name, reason in missing.items())

    def _optional(self, info: t.Dict[str, t.Any], name: str, read: t.Callable[[], t.Any]) -> t.Any:
        """An informational field: its value, or None with the reason in `unavailable` and a warning."""
        try:
            return read()
        except DeadlineExceeded:
            raise
        except LMCacheError as exc:
            info['unavailable'][name] = str(exc)
            self.ctx.warn('%s is unknown for %s: %s' % (name, self.node.url, exc))
            return None

    def report(self, before: t.Dict[str, t.Any], after: t.Any, plan: Plan) -> t.Dict[str, t.Any]:
        result = dict(before)
        result['status'] = result.pop('health_status')
        return result

    def message(self, before: t.Any, after: t.Any, plan: t.Optional[Plan]) -> str:
        if not before['healthy']:
            return '%s is not healthy: %s' % (self.node.describe(), before['health_reason'])
        l1 = before['l1']
        return '%s is healthy; L1 holds %d objects (%s of %s).' % (
            self.node.describe(), l1['objects'], bytes_to_human(l1['bytes_used']), bytes_to_human(l1['bytes_total']))


def _status_adapter(adapter: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """An L2 adapter as /status describes it (before /config/adapters), in /config/adapters' shape."""
    kind = str(adapter.get('type') or adapter.get('type_name') or 'unknown')
    return dict(index=None, type=kind[:-len('L2Adapter')].lower() if kind.endswith('L2Adapter') else kind, tier='l2',
                primary=None)


class ClearInstance(Operation):
    """Clear a node's whole L1."""

    per_worker = True

    argument_spec = dict(
        force=dict(type='bool', default=False),
        max_remaining=dict(type='int'),
    )
    target = 'optional'

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        # The module takes a targeted clear's options too (ClearRequest): an instance-wide clear refuses its tier.
        if request is None and params.get('tier', 'l1') != 'l1':
            return ['an instance-wide clear supports only tier=l1 (LMCache clears L1 only); tier=%s needs a targeted '
                    'clear (token_ids or request_id)' % params['tier']]
        remaining = params.get('max_remaining')
        if remaining is not None and request is not None:
            return ['max_remaining applies to an instance-wide clear (it counts what stays in L1), not to a targeted '
                    'clear (token_ids or request_id)']
        if remaining is not None and remaining < 0:
            return ['max_remaining must be 0 or more, got %d' % remaining]
        return []

    @property
    def forced(self) -> bool:
        return bool(self.params['force']) or not self.node.force_honoured

    reads_known = True

    def routes_read(self, discovery: Discovery) -> t.List[str]:
        generation = discovery.generation
        return _engine.status_paths() if generation.kind == ENGINE else [generation.status]

    def read(self) -> L1Usage:
        return self.node.status().l1

    def plan(self, before: L1Usage) -> Plan:
        if not before.objects:
            return Plan(after=before)
        kept = 0 if self.forced or before.locked_objects is None else before.locked_objects
        kept_bytes = before.bytes_used * kept // before.objects
        return Plan(['clear'], after=L1Usage(kept, kept_bytes, before.bytes_total, None, kept))

    def apply(self, plan: Plan) -> None:
        if self.node.kind != ENGINE:
            self.node.clear_l1(self.params['force'])
            return
        # An engine's stores go on while it is cleared: freeze them first (the local CPU backend still serves), and
        # put them back after, whatever happened, unless the operator had frozen them.
        client = self.node.client
        self.froze = not _engine.flag(client, 'freeze')
        if self.froze:
            _engine.set_flag(client, 'freeze', True)
        try:
            self.node.clear_l1(self.params['force'])
        finally:
            if self.froze:
                try:
                    _engine.set_flag(client, 'freeze', False)
                except LMCacheError as exc:
                    raise LMCacheError('%s; stores are still frozen on %s: unfreeze them with '
                                       'lmcache.kvcache.lmcache_engine (freeze: false)' % (exc, self.node.url))

    def read_after(self, plan: Plan, before: L1Usage) -> L1Usage:
        after = self.node.status().l1
        # Past max_remaining, the failure says it instead.
        if after.objects and self.after_problem(after) is None:
            self.ctx.warn('%d object(s) in L1 after the clear of %s: in use by in-flight requests, or stored since%s'
                          % (after.objects, self.node.url, '' if self.forced else '; force=true drops objects in use too'))
        return after

    def changed(self, before: L1Usage, current: L1Usage) -> bool:
        return current.objects < before.objects

    @classmethod
    def totals(cls, results: t.Sequence[t.Mapping[str, t.Any]]) -> t.Optional[t.Dict[str, t.Any]]:
        # What the window's summary says of the whole fleet when the fan-out shows only the exceptions.
        read = [r for r in results if 'before' in r]
        engines = [r for r in read if r.get('kind') == ENGINE]
        return dict(objects_cleared=sum(r.get('objects_cleared') or 0 for r in read if not r.get('failed')),
                    bytes_cleared=sum(r.get('bytes_cleared') or 0 for r in read if not r.get('failed')),
                    engines=len(engines), engines_froze_stores=sum(1 for r in engines if r.get('froze_stores')))

    def after_problem(self, after: L1Usage) -> t.Optional[str]:
        limit = self.params.get('max_remaining')
        if limit is None or after.objects <= limit:
            return None
        return ('%d objects remain in L1 of %s after the clear, more than max_remaining=%d: in use by in-flight '
                'requests%s?' % (after.objects, self.node.url, limit, '' if self.forced else ' (force=true drops them too)'))

    def changed_after(self, before: L1Usage, after: L1Usage, plan: Plan) -> bool:
        # A clear the server answered but did not carry out (the same counts after it) changed nothing.
        return bool(plan.changes) and (self.ctx.check_mode or after.counts() != before.counts())

    def report(self, before: L1Usage, after: L1Usage, plan: Plan) -> t.Dict[str, t.Any]:
        objects, byte_count = self._cleared(before, after, plan)
        if self.ctx.check_mode and plan.changes and self.node.kind == ENGINE:
            # What the clear would do: freeze the engine's stores, unless they are frozen already.
            self.froze = not _engine.flag(self.node.client, 'freeze')
        return dict(tier='l1', forced=self.forced, before=before.counts(), after=after.counts(),
                    objects_cleared=objects, bytes_cleared=byte_count, kind=self.node.kind,
                    froze_stores=getattr(self, 'froze', False))

    def _cleared(self, before: L1Usage, after: L1Usage, plan: Plan) -> t.Tuple[int, int]:
        """What left L1: the server's counts before less after (LMCache lists no L1 keys, and its clear answers no
        count). In check mode, what the plan predicts would leave. Never counts an object that is still there."""
        if not plan.changes:
            return 0, 0
        return max(0, before.objects - after.objects), max(0, before.bytes_used - after.bytes_used)

    def message(self, before: t.Optional[L1Usage], after: t.Any, plan: t.Optional[Plan]) -> str:
        where = 'L1 of %s' % self.node.describe()
        if before is None or not before.objects or plan is None:
            return '%s is already empty.' % where
        objects, byte_count = self._cleared(before, after, plan)
        if self.ctx.check_mode:
            msg = 'Would clear %d objects (%s) from %s.' % (objects, bytes_to_human(byte_count), where)
        elif not objects:
            msg = ('Sent the clear to %s, but by its counts nothing left L1: it holds %d objects (%s) after it, %d before. '
                   'Either it did not clear, or requests stored as many since: LMCache lists no L1 keys to tell.'
                   % (where, after.objects, bytes_to_human(after.bytes_used), before.objects))
        else:
            msg = 'Cleared %d objects (%s) from %s.' % (objects, bytes_to_human(byte_count), where)
            if after.objects:
                msg += (' %d objects (%s) are in L1 after it: in use by in-flight requests, or stored since (the count '
                        'is the server\'s total before less after).' % (after.objects, bytes_to_human(after.bytes_used)))
        if getattr(self, 'froze', False):
            msg += (' Stores would be frozen during the clear, and unfrozen after it.' if self.ctx.check_mode
                    else ' Stores were frozen during the clear, and unfrozen after it.')
        if self.forced and not self.params['force']:
            msg += ' This %s always force-clears: objects in use by in-flight requests are dropped too.' % self.node.kind
        return msg

    def diff(self, before: L1Usage, after: L1Usage) -> t.Dict[str, t.Any]:
        return dict(before=dict(l1=before.counts()), after=dict(l1=after.counts()))


class TenantQuota(Operation):
    """Declarative per-tenant (cache salt) quota on a node."""

    argument_spec = dict(
        cache_salt=dict(type='str', required=True, no_log=False),
        limit_gb=dict(type='float'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        coordinator_url=dict(type='str'),
    )
    required_if = [('state', 'present', ('limit_gb',))]

    def __init__(self, params: t.Mapping[str, t.Any], ctx: Context, request: t.Optional[Target]) -> None:
        super().__init__(params, ctx, request)
        # The node's own quota (L1), or with coordinator_url the coordinator's fleet-wide one (L2, 0.5.7 and later).
        self.store: t.Union[LMCacheServer, CoordinatorQuotas] = (
            CoordinatorQuotas(t.cast(LMCacheClient, ctx.coordinator)) if params.get('coordinator_url') else self.node)

    @property
    def where(self) -> str:
        if isinstance(self.store, CoordinatorQuotas):
            return 'the coordinator %s (fleet-wide, L2)' % self.store.client.display_url
        return self.node.describe()

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        problems = []
        salt = params['cache_salt']
        if not salt or salt in ('.', '..') or '/' in salt or salt.strip() != salt or any(ord(c) < 32 for c in salt):
            problems.append("cache_salt must be a non-empty tenant salt without '/', control characters or surrounding "
                            "spaces, and not '.' or '..' (a path segment a proxy resolves to another route), got %r" % salt)
        limit = params.get('limit_gb')
        if limit is not None and (math.isnan(limit) or math.isinf(limit) or not 0 < limit <= MAX_QUOTA_GB):
            problems.append('limit_gb must be greater than 0 and at most %d (GB), got %s' % (MAX_QUOTA_GB, limit))
        if params['state'] == 'absent' and limit is not None:
            problems.append('limit_gb is only for state=present')
        return problems

    @property
    def present(self) -> bool:
        return self.params['state'] == 'present'

    def read(self) -> t.Optional[Quota]:
        return self.store.quota(self.params['cache_salt'])

    def plan(self, before: t.Optional[Quota]) -> Plan:
        salt = self.params['cache_salt']
        if self.present:
            limit = float(self.params['limit_gb'])
            if before is not None and before.limit_gb is not None and math.isclose(before.limit_gb, limit, rel_tol=1e-9):
                return Plan(after=before)
            return Plan(['set'], after=Quota(salt, limit, before.usage_gb if before else None))
        if before is None:
            return Plan(after=None)
        return Plan(['remove'], after=None)

    def apply(self, plan: Plan) -> None:
        if self.present:
            self.store.set_quota(self.params['cache_salt'], float(self.params['limit_gb']))
        else:
            self.store.remove_quota(self.params['cache_salt'])

    def read_after(self, plan: Plan, before: t.Optional[Quota]) -> t.Optional[Quota]:
        after = self.read()
        wanted = plan.after
        if (after is None) != (wanted is None) or (after and wanted and not math.isclose(
                after.limit_gb or 0.0, wanted.limit_gb or 0.0, rel_tol=1e-9)):
            raise LMCacheError('%s: the quota of %r reads back as %s after it was %s, not as asked'
                               % (self.where, self.params['cache_salt'], _quota_text(after),
                                  'set' if self.present else 'removed'))
        return after

    def changed(self, before: t.Optional[Quota], current: t.Optional[Quota]) -> bool:
        return _quota_text(before) != _quota_text(current)

    def facts(self) -> t.Dict[str, t.Any]:
        facts = super().facts()
        if isinstance(self.store, CoordinatorQuotas):
            facts['coordinator_url'] = self.store.client.display_url
        return facts

    def report(self, before: t.Optional[Quota], after: t.Optional[Quota], plan: Plan) -> t.Dict[str, t.Any]:
        return dict(cache_salt=self.params['cache_salt'], state=self.params['state'],
                    quota=after.as_dict() if after else None, previous_limit_gb=before.limit_gb if before else None)

    def message(self, before: t.Optional[Quota], after: t.Any, plan: t.Optional[Plan]) -> str:
        salt = self.params['cache_salt']
        where = self.where
        if plan is not None and not plan.changes:
            if before is None:
                return 'Tenant %r has no quota on %s: nothing to remove.' % (salt, where)
            return 'The quota of tenant %r on %s is already %s.' % (salt, where, _quota_text(before))
        if self.present:
            return '%s the quota of tenant %r on %s to %s GB (was %s).' % (
                'Would set' if self.ctx.check_mode else 'Set', salt, where, plain_number(self.params['limit_gb']),
                _quota_text(before))
        return ('%s the quota of tenant %r on %s (was %s). Its cached data is over budget from the next eviction cycle '
                'and may be evicted.' % ('Would remove' if self.ctx.check_mode else 'Removed', salt, where, _quota_text(before)))

    def diff(self, before: t.Optional[Quota], after: t.Optional[Quota]) -> t.Dict[str, t.Any]:
        salt = self.params['cache_salt']
        result: t.Dict[str, t.Any] = dict(before={'quota': {salt: before.limit_gb} if before else {}},
                                          after={'quota': {salt: after.limit_gb} if after else {}})
        if before is not None and after is None:
            result['after_header'] = 'quota removed: the tenant\'s cached data may be evicted at the next eviction cycle'
        return result


def _quota_text(quota: t.Optional[Quota]) -> str:
    if quota is None:
        return 'not set'
    return '%s GB' % plain_number(quota.limit_gb) if quota.limit_gb is not None else 'set, with no limit reported'


LOG_LEVELS = ('CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG', 'NOTSET')
# A logger's name: what Python's logging takes, without the characters a query string or a message would mangle.
LOGGER_NAME = re.compile(r'^[A-Za-z0-9_.:-]{1,200}$')


class LogLevels(Operation):
    """The log levels of named loggers on a node, at runtime (GET /loglevel?logger_name=&level=, 0.5.0 and later, and
    engines): read first, set only where they differ."""

    argument_spec = dict(
        levels=dict(type='dict', required=True),
    )
    per_worker = True

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        levels = params['levels']
        problems = [] if levels else ['levels must name at least one logger']
        for name, level in sorted(levels.items(), key=lambda item: str(item[0])):
            if not isinstance(name, str) or not LOGGER_NAME.match(name):
                problems.append('levels: %r is not a logger name (letters, digits, ".", "_", ":", "-")' % (name,))
            if not isinstance(level, str) or level.upper() not in LOG_LEVELS:
                problems.append('levels: the level of %s must be one of %s, got %r' % (name, ', '.join(LOG_LEVELS), level))
        return problems

    def read(self) -> t.Dict[str, str]:
        self.node.require('loglevel', 'read and set log levels')
        return dict((name, self._level(name)) for name in sorted(self.params['levels']))

    def _level(self, name: str) -> str:
        """GET /loglevel?logger_name=NAME answers 'NAME: LEVEL' (text)."""
        reply = self.node.client.request('GET', '/loglevel?' + urlencode(dict(logger_name=name)))
        prefix = '%s: ' % name
        level = reply.text.strip()[len(prefix):] if reply.text.strip().startswith(prefix) else None
        if level not in LOG_LEVELS:
            raise LMCacheError('GET %s: cannot read the level of %s from the answer: %s, expected "%sLEVEL"'
                               % (reply.url, name, squash(reply.text)[:100] or '(empty)', prefix))
        return t.cast(str, level)

    def plan(self, before: t.Dict[str, str]) -> Plan:
        wanted = dict((name, level.upper()) for name, level in self.params['levels'].items())
        changes = sorted(name for name in wanted if before[name] != wanted[name])
        return Plan(changes, after=dict(before, **dict((name, wanted[name]) for name in changes)))

    def apply(self, plan: Plan) -> None:
        for name in plan.changes:
            level = plan.after[name]
            # Setting a level twice sets it once: a GET the client may retry like any read.
            reply = self.node.client.request('GET', '/loglevel?' + urlencode(dict(logger_name=name, level=level)))
            if not reply.text.strip().startswith('Set %s level to %s' % (name, level)):
                raise LMCacheError('GET %s: the node did not say it set %s to %s: %s'
                                   % (reply.url, name, level, squash(reply.text)[:200] or '(empty)'))

    def report(self, before: t.Dict[str, str], after: t.Dict[str, str], plan: Plan) -> t.Dict[str, t.Any]:
        return dict(before=before, after=after, kind=self.node.kind)

    def diff(self, before: t.Dict[str, str], after: t.Dict[str, str]) -> t.Dict[str, t.Any]:
        return dict(before=before, after=after)

    def message(self, before: t.Any, after: t.Any, plan: t.Optional[Plan]) -> str:
        if plan is None or not plan.changes:
            return 'The log levels of %s are as asked on %s.' % (', '.join(sorted(self.params['levels'])), self.node.describe())
        return '%s %s on %s.' % ('Would set' if self.ctx.check_mode else 'Set', ', '.join(
            '%s %s -> %s' % (name, before[name], plan.after[name]) for name in plan.changes), self.node.describe())
