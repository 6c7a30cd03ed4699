# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Per-request operations: info, pin, compress, targeted clear, prefetch. Each is an argument spec and a plan.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import math
import time
import typing as t

from ansible.module_utils.common.text.formatters import bytes_to_human

from ansible_collections.lmcache.kvcache.plugins.module_utils._server import LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError
from ansible_collections.lmcache.kvcache.plugins.module_utils._kvcache import (
    TIERS,
    RequestCache,
    RequestIdCache,
    TokenSequenceCache,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import ClearInstance
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Context, Operation, Plan
from ansible_collections.lmcache.kvcache.plugins.module_utils._chunks import Chunk, chunk_ranges, chunk_summary
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import Target
from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import NETWORKS_ARGUMENT_SPEC, Networks

PREFETCH_POLL_SECONDS = 0.5


def _indexes(chunks: t.Iterable[Chunk]) -> str:
    return ', '.join(str(c.index) for c in chunks)


class RequestOperation(Operation):
    """An operation on one request's chunks, through the coordinator (token_ids) or the node (request_id)."""

    target = 'required'
    # Whether a token-addressed request needs the coordinator (prefetch can do without).
    needs_coordinator = True

    def __init__(self, params: t.Mapping[str, t.Any], ctx: Context, request: t.Optional[Target]) -> None:
        super().__init__(params, ctx, request)
        if request is None:
            raise AssertionError('%s needs a request target' % type(self).__name__)
        self.cache: RequestCache
        if request.by_tokens:
            self.cache = TokenSequenceCache(request, ctx.coordinator, self.node, ctx.node_for, Networks(params.get('networks')))
        else:
            self.cache = RequestIdCache(request, self.node)
        self.by_tokens = request.by_tokens

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        if request is not None and request.by_tokens and cls.needs_coordinator and not params.get('coordinator_url'):
            return ['token_ids needs coordinator_url (or LMCACHE_COORDINATOR_URL): LMCache finds a token sequence\'s '
                    'chunks through its coordinator']
        return []

    def selected(self, chunks: t.Sequence[Chunk]) -> t.List[Chunk]:
        """The chunks in the range (a token-sequence read covers the whole prefix)."""
        return self.cache.selected(chunks)

    def chunk_report(self, chunks: t.Sequence[Chunk]) -> t.Dict[str, t.Any]:
        """The result fields every per-request operation returns about the request's chunks."""
        selected = self.selected(chunks)
        report = dict(target=self.cache.description, chunk_ranges=chunk_ranges(selected), **chunk_summary(selected))
        if self.params.get('per_chunk', True):
            report['chunks'] = [c.as_dict() for c in selected]
        return report

    def chunk_diff(self, before: t.Sequence[Chunk], after: t.Sequence[Chunk], fields: t.Sequence[str]) -> t.Dict[str, t.Any]:
        def view(chunks: t.Sequence[Chunk]) -> t.Dict[str, t.Any]:
            return dict(('%d:%d' % (c.start, c.end), dict((f, c.as_dict()[f]) for f in fields)) for c in self.selected(chunks))
        return dict(before=view(before), after=view(after))

    def facts(self) -> t.Dict[str, t.Any]:
        facts = super().facts()
        if self.by_tokens and self.ctx.coordinator is not None:
            facts['coordinator_url'] = self.ctx.coordinator.display_url
        return facts


class Info(RequestOperation):
    def read(self) -> t.List[Chunk]:
        self.cache.require('kvcache_info')
        return self.cache.read()

    def report(self, before: t.List[Chunk], after: t.Any, plan: Plan) -> t.Dict[str, t.Any]:
        return self.chunk_report(before)

    def message(self, before: t.Any, after: t.Any, plan: t.Optional[Plan]) -> str:
        summary = chunk_summary(self.selected(before or []))
        return '%d of %d chunks of %s are cached, %d pinned.' % (
            summary['cached_chunks'], summary['total_chunks'], self.cache.description, summary['pinned_chunks'])


class Pin(RequestOperation):
    argument_spec = dict(
        state=dict(type='str', default='present', choices=['present', 'absent']),
        include_uncached=dict(type='bool', default=False),
        max_usage=dict(type='float', default=0.8),
        fail_on_rejected=dict(type='bool', default=True),
    )
    rejection_option = 'fail_on_rejected'

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        problems = super().option_problems(params, request)
        usage = params['max_usage']
        if math.isnan(usage) or not 0 < usage <= 1:
            problems.append('max_usage must be greater than 0 and at most 1, got %s' % usage)
        return problems

    @property
    def present(self) -> bool:
        return self.params['state'] == 'present'

    def read(self) -> t.List[Chunk]:
        self.cache.require('pin')
        return self.cache.read()

    def changing(self, chunks: t.Sequence[Chunk]) -> t.List[Chunk]:
        if self.present:
            return [c for c in self.selected(chunks) if not c.pinned and (c.cached or self.params['include_uncached'])]
        return [c for c in self.selected(chunks) if c.pinned]

    def plan(self, before: t.List[Chunk]) -> Plan:
        changing = self.changing(before)
        count = 1 if self.present else 0
        goal = dict((c.index, c.pin_count) for c in before)
        goal.update((c.index, count) for c in changing)
        after = [c.copy(pin_count=goal[c.index]) for c in before]
        if not changing:
            return Plan(after=after, goal=goal)
        if self.present:
            self.cache.admission(self.selected(before), self.params['max_usage'])
        return Plan(self.cache.pin_changes(before, goal), after=after, goal=goal)

    def replan(self, current: t.List[Chunk], plan: Plan) -> Plan:
        return Plan(self.cache.pin_changes(current, plan.goal), plan.after, plan.goal)

    def apply(self, plan: Plan) -> None:
        for change in plan.changes:
            self.cache.apply_pin_change(change)

    def changed(self, before: t.List[Chunk], current: t.List[Chunk]) -> bool:
        return [c.pin_count for c in before] != [c.pin_count for c in current]

    def report(self, before: t.List[Chunk], after: t.List[Chunk], plan: Plan) -> t.Dict[str, t.Any]:
        return dict(self.chunk_report(after), state=self.params['state'], rejected=False, reason=None,
                    chunks_changed=[c.index for c in self.changing(before)],
                    uncached_chunks=[c.index for c in self.selected(before) if not c.cached])

    def rejected_report(self, reason: str) -> t.Dict[str, t.Any]:
        return dict(state=self.params['state'], target=self.cache.description, chunks_changed=[],
                    msg='Pin of %s REJECTED: %s' % (self.cache.description, reason))

    def message(self, before: t.List[Chunk], after: t.Any, plan: t.Optional[Plan]) -> str:
        action = 'pin' if self.present else 'unpin'
        changing = self.changing(before)
        if changing:
            msg = '%s %d chunks (%s) of %s.' % ('Would %s' % action if self.ctx.check_mode else action.capitalize() + 'ned',
                                                len(changing), _indexes(changing), self.cache.description)
        else:
            msg = 'Nothing to %s: %s is already as asked.' % (action, self.cache.description)
        uncached = [c for c in self.selected(before) if not c.cached]
        if uncached and self.present and not self.params['include_uncached']:
            msg += ' Not cached, so not pinned: chunks %s.' % _indexes(uncached)
        return msg

    def diff(self, before: t.List[Chunk], after: t.List[Chunk]) -> t.Dict[str, t.Any]:
        return self.chunk_diff(before, after, ('pinned', 'pin_count'))


class Compress(RequestOperation):
    argument_spec = dict(method=dict(type='str', required=True, choices=['zstd', 'lz4', 'fp8', 'cachegen']))

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        # Token sequences are refused with a full explanation once the node is known (read()).
        return []

    def read(self) -> t.List[Chunk]:
        self.cache.require('compress')
        return self.cache.read()

    def changing(self, chunks: t.Sequence[Chunk]) -> t.List[Chunk]:
        return [c for c in chunks if c.cached and c.compression != self.params['method']]

    def plan(self, before: t.List[Chunk]) -> Plan:
        changing = set(c.index for c in self.changing(before))
        after = [c.copy(compression=self.params['method']) if c.index in changing else c for c in before]
        return Plan(sorted(changing), after=after)

    def apply(self, plan: Plan) -> None:
        self.cache.compress(self.params['method'])

    def changed(self, before: t.List[Chunk], current: t.List[Chunk]) -> bool:
        return [c.compression for c in before] != [c.compression for c in current]

    def report(self, before: t.List[Chunk], after: t.List[Chunk], plan: Plan) -> t.Dict[str, t.Any]:
        return dict(self.chunk_report(after), method=self.params['method'], chunks_changed=plan.changes,
                    bytes_before=_stored_bytes(before), bytes_after=_stored_bytes(after))

    def message(self, before: t.List[Chunk], after: t.List[Chunk], plan: t.Optional[Plan]) -> str:
        method = self.params['method']
        if plan is None or not plan.changes:
            return 'Nothing to compress: the cached chunks of %s are already %s.' % (self.cache.description, method)
        return '%s %d chunks of %s with %s (%s -> %s).' % (
            'Would compress' if self.ctx.check_mode else 'Compressed', len(plan.changes), self.cache.description, method,
            bytes_to_human(_stored_bytes(before)), bytes_to_human(_stored_bytes(after)))

    def diff(self, before: t.List[Chunk], after: t.List[Chunk]) -> t.Dict[str, t.Any]:
        return self.chunk_diff(before, after, ('compression', 'size_bytes'))


def _stored_bytes(chunks: t.Sequence[Chunk]) -> int:
    return sum(c.size_bytes or 0 for c in chunks if c.cached)


class ClearRequest(RequestOperation):
    """Delete one request's chunks from some tiers of one instance."""

    argument_spec = dict(
        ClearInstance.argument_spec,
        tier=dict(type='str', default='l1', choices=['l1', 'l2', 'all']),
        delete_via=dict(type='str', default='auto', choices=['auto', 'node', 'coordinator']),
        **NETWORKS_ARGUMENT_SPEC
    )

    def __init__(self, params: t.Mapping[str, t.Any], ctx: Context, request: t.Optional[Target]) -> None:
        super().__init__(params, ctx, request)
        self.tiers = set(TIERS[params['tier']])
        self.instance: t.Optional[str] = None
        self.via = 'node'

    def read(self) -> t.List[Chunk]:
        self.cache.require('kvcache_clear')
        self.instance = self.cache.scope()
        self.via = self.cache.delete_via(self.params['delete_via'], self.params.get('instance_id'),
                                         bool(self.ctx.connector.api_key))
        return self.cache.read()

    def deleting(self, chunks: t.Sequence[Chunk]) -> t.List[Chunk]:
        """Chunks in the range held in the tiers, except pinned ones where pins protect a tier asked for (unless force)."""
        return [c for c in self.selected(chunks) if set(c.locations) & self.tiers and not self.kept_pinned(c)]

    def kept_pinned(self, chunk: Chunk) -> bool:
        return chunk.pinned and not self.params['force'] and bool(self.tiers & self.cache.pins_protect) \
            and bool(set(chunk.locations) & self.tiers)

    def plan(self, before: t.List[Chunk]) -> Plan:
        deleting = self.deleting(before)
        gone = set(c.index for c in deleting)
        after = [c.copy(locations=[tier for tier in c.locations if tier not in self.tiers],
                        placements=[p for p in c.placements if p['tier'] not in self.tiers]) if c.index in gone else c
                 for c in before]
        if deleting and self.via == 'coordinator':
            self._check_prefix(before)
        return Plan(sorted(gone), after=after, goal=deleting)

    def _check_prefix(self, chunks: t.Sequence[Chunk]) -> None:
        """The coordinator deletes whole prefixes: refuse when that would remove chunks before the range."""
        first = self.cache.target.range.first
        before = [c for c in chunks if c.index < first and set(c.locations) & self.tiers]
        if before:
            raise LMCacheError(
                'the coordinator deletes a token sequence from its first chunk, so clearing from chunk %d on %s would also '
                'delete chunks %s, which are before start and cached there (%s). Clear from start=0, or delete on the '
                'node itself (delete_via: node).' % (first, self.instance, _indexes(before), '/'.join(sorted(self.tiers))))

    def apply(self, plan: Plan) -> None:
        self.cache.delete(plan.goal, self.params['tier'], self.params['force'], self.via)

    def read_after(self, plan: Plan, before: t.List[Chunk]) -> t.List[Chunk]:
        gone = set(plan.changes)

        def settled(chunks: t.List[Chunk]) -> bool:
            return not any(set(c.locations) & self.tiers for c in chunks if c.index in gone)
        cache = self.cache
        after = cache.read_settled(settled)
        remaining = [c for c in self.selected(after) if set(c.locations) & self.tiers]
        if remaining:
            self.ctx.warn('chunks %s of %s are still in %s on %s (pinned or in use; force=true deletes them too)'
                          % (_indexes(remaining), cache.description, '/'.join(sorted(self.tiers)), self.instance))
        return after

    def changed(self, before: t.List[Chunk], current: t.List[Chunk]) -> bool:
        return [c.locations for c in before] != [c.locations for c in current]

    def report(self, before: t.List[Chunk], after: t.List[Chunk], plan: Plan) -> t.Dict[str, t.Any]:
        after_tiers = dict((c.index, set(c.locations)) for c in after)
        removed = [c.index for c in self.selected(before) if set(c.locations) - after_tiers.get(c.index, set())]
        return dict(self.chunk_report(after), tier=self.params['tier'], instance=self.instance, delete_via=self.via,
                    chunks_changed=removed if not self.ctx.check_mode else plan.changes)

    def message(self, before: t.List[Chunk], after: t.Any, plan: t.Optional[Plan]) -> str:
        tiers = '/'.join(sorted(self.tiers))
        kept = [c for c in self.selected(before or []) if self.kept_pinned(c)]
        if plan is None or not plan.changes:
            msg = 'Nothing to delete: no unpinned chunk of %s is in %s on %s.' % (self.cache.description, tiers, self.instance)
        else:
            msg = '%s %d chunks (%s) of %s from %s on %s.' % (
                'Would delete' if self.ctx.check_mode else 'Deleted', len(plan.changes),
                ', '.join(map(str, plan.changes)), self.cache.description, tiers, self.instance)
        if kept:
            msg += ' Pinned, so kept: chunks %s (force=true deletes them too).' % _indexes(kept)
        return msg

    def diff(self, before: t.List[Chunk], after: t.List[Chunk]) -> t.Dict[str, t.Any]:
        return self.chunk_diff(before, after, ('locations',))


class Prefetch(RequestOperation):
    """Warm one request's chunks from L2 into L1 on the node at url."""

    argument_spec = dict(
        wait=dict(type='bool', default=True),
        wait_timeout=dict(type='float', default=60.0),
        prefetch_via=dict(type='str', default='node', choices=['node', 'coordinator']),
        **NETWORKS_ARGUMENT_SPEC
    )
    needs_coordinator = False

    @property
    def counts_only(self) -> bool:
        """Without the coordinator the node alone tells what it holds: the plan and report count L1 objects."""
        return self.ctx.coordinator is None

    @property
    def submit_to(self) -> t.Optional[LMCacheServer]:
        """The node to submit to; None: through the coordinator."""
        return None if self.params['prefetch_via'] == 'coordinator' else self.node

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        problems = []
        if request is not None and not request.by_tokens:
            problems.append('prefetch takes token_ids (or token_ids_file) and model_name: LMCache prefetches by token '
                            'sequence, and no server offers a prefetch by request_id')
        timeout = params['wait_timeout']
        if math.isnan(timeout) or not 0 < timeout <= params['deadline']:
            problems.append('wait_timeout must be greater than 0 and at most deadline (%s), got %s'
                            % (params['deadline'], timeout))
        if params['prefetch_via'] == 'coordinator' and not params.get('coordinator_url'):
            problems.append('prefetch_via=coordinator needs coordinator_url (or LMCACHE_COORDINATOR_URL)')
        if request is not None and request.by_tokens and len(request.token_ids or []) < 256:
            problems.append('token_ids has %d tokens, less than one chunk (256): there is nothing to prefetch'
                            % len(request.token_ids or []))
        return problems

    def read(self) -> t.Union[t.List[Chunk], int]:
        """The request's chunks on this node, where the coordinator can tell; else the node's L1 object count."""
        cache = self.cache
        if self.submit_to is not None:
            self.node.require('prefetch', 'prefetch from L2 into L1')
        if self.counts_only:
            return self.node.status().l1.objects
        cache.scope()
        return cache.read()

    def warmable(self, chunks: t.Sequence[Chunk]) -> t.List[Chunk]:
        return [c for c in self.selected(chunks) if 'L1' not in c.locations and 'L2' in c.locations]

    def plan(self, before: t.Union[t.List[Chunk], int]) -> Plan:
        if self.counts_only:
            # Without the coordinator the node alone knows what it holds: submit, and see whether L1 grew.
            return Plan(['submit'], after=before)
        warm = set(c.index for c in self.warmable(before))
        after = [c.copy(locations=sorted(set(c.locations) | {'L1'})) if c.index in warm else c for c in before]
        return Plan(sorted(warm), after=after)

    def apply(self, plan: Plan) -> None:
        cache = self.cache
        job = cache.submit_prefetch(self.submit_to)
        self.job: t.Dict[str, t.Any] = dict(job)
        if job['status'] == 'noop' or not self.params['wait'] or not job.get('request_id'):
            return
        waited_until = time.monotonic() + self.params['wait_timeout']
        while True:
            state = cache.prefetch_state(self.submit_to, job['request_id'])
            self.job.update(state)
            if state['status'] != 'pending':
                break
            if time.monotonic() + PREFETCH_POLL_SECONDS > waited_until:
                raise LMCacheError('prefetch %s of %s on %s is still pending after wait_timeout=%ss; it goes on on the node'
                                   % (job['request_id'], cache.description, self.node.url, self.params['wait_timeout']))
            time.sleep(PREFETCH_POLL_SECONDS)
        if self.job['status'] != 'completed':
            raise LMCacheError('prefetch %s of %s on %s ended with status %r' % (
                job['request_id'], cache.description, self.node.url, self.job['status']))

    def read_after(self, plan: Plan, before: t.Union[t.List[Chunk], int]) -> t.Union[t.List[Chunk], int]:
        if self.counts_only:
            return self.node.status().l1.objects if self.params['wait'] else before
        if not self.params['wait']:
            return plan.after
        warm = set(plan.changes)
        return self.cache.read_settled(lambda chunks: all('L1' in c.locations for c in chunks if c.index in warm))

    def changed_after(self, before: t.Union[t.List[Chunk], int], after: t.Union[t.List[Chunk], int], plan: Plan) -> bool:
        if self.counts_only and not self.ctx.check_mode and self.params['wait']:
            return t.cast(int, after) > before
        return bool(plan.changes)

    def report(self, before: t.Union[t.List[Chunk], int], after: t.Union[t.List[Chunk], int], plan: Plan) -> t.Dict[str, t.Any]:
        job = getattr(self, 'job', {})
        result: t.Dict[str, t.Any] = dict(target=self.cache.description, prefetch_id=job.get('request_id'),
                                          prefetch_status=job.get('status'), found_keys=job.get('found_keys'),
                                          total_keys=job.get('total_keys'))
        if not self.counts_only:
            result.update(self.chunk_report(after))
            before_l1 = set(c.index for c in before if 'L1' in c.locations)
            result['chunks_warmed'] = [c.index for c in self.selected(after) if 'L1' in c.locations and c.index not in before_l1]
            result['chunks_not_in_l2'] = [c.index for c in self.selected(after) if not c.locations]
        else:
            result.update(chunks_warmed=None, chunks_not_in_l2=None)
        return result

    def message(self, before: t.Union[t.List[Chunk], int, None], after: t.Any, plan: t.Optional[Plan]) -> str:
        description = self.cache.description
        if not self.counts_only and plan is not None and not plan.changes:
            missing = [c for c in self.selected(before) if 'L1' not in c.locations]
            if not missing:
                return 'Nothing to prefetch: every chunk of %s is in L1 on %s.' % (description, self.node.url)
            return 'Nothing to prefetch: chunks %s of %s are in neither L1 nor L2 on %s.' % (
                _indexes(missing), description, self.node.url)
        if self.ctx.check_mode:
            return 'Would prefetch %s chunks of %s from L2 into L1 on %s.' % (
                len(plan.changes) if not self.counts_only and plan else 'the', description, self.node.url)
        job = getattr(self, 'job', {})
        if not self.params['wait']:
            return 'Submitted prefetch %s of %s on %s (not waited for).' % (job.get('request_id'), description, self.node.url)
        return 'Prefetched %s of %s keys of %s from L2 into L1 on %s.' % (
            job.get('found_keys'), job.get('total_keys'), description, self.node.url)

    def diff(self, before: t.Union[t.List[Chunk], int], after: t.Union[t.List[Chunk], int]) -> t.Optional[t.Dict[str, t.Any]]:
        if self.counts_only:
            return None
        return self.chunk_diff(before, after, ('locations',))
