# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The soak: many operations against a simulated fleet with injected faults, each result checked against the
server's true state. Run it with ./tests/soak.sh [--operations 10000] [--fault-rate 0.05].

Every operation runs through the same skeleton as a module (execute() in module_utils/_runner.py). Workers own
disjoint nodes and token sequences, so each one knows the true state before and after its own operation and can
judge the result: a `changed` flag that does not match the state (wrong), a pin count above one or a pin missing
(doubled or lost pins), an exception that is not an expected failure (traceback). It prints the counts, the faults
injected, the operations per second and the peak memory, and exits 1 when any count is above zero.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import random
import resource
import sys
import threading
import time
import traceback
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import Deadline
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import OPERATIONS
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Context, argument_spec, check, execute
from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet, key_id, key_of

CHUNKS = 3
NODES_PER_WORKER = 3
# Faults that a well-behaved client must survive or report, with the requests they hit.
FAULTS = [
    dict(kind='reset', method='GET', path='/status'),
    dict(kind='reset_mid_body', method='GET', path='/status'),
    dict(kind='truncate', method='GET', path='/version'),
    dict(kind='status', method='GET', path='/status', status=503),
    dict(kind='status', method='GET', path='/status', status=429, headers={'Retry-After': '0'}),
    dict(kind='status', method='POST', path='/cache/clear', status=503),
    dict(kind='status', method='POST', path='/cache/clear', status=500),
    dict(kind='status', method='POST', path='/cache/clear', status=502),
    dict(kind='apply_then_delay', method='POST', path='/cache/clear', seconds=0.6),
    dict(kind='apply_then_reset', method='POST', path='/cache/clear'),
    dict(kind='apply_then_delay', method='DELETE', path='/cache/objects', seconds=0.6),
    dict(kind='apply_then_delay', method='PUT', path='/quota/.*', seconds=0.6),
    dict(kind='status', method='PUT', path='/quota/.*', status=500),
    dict(kind='html', method='GET', path='/status'),
    dict(kind='body', method='GET', path='/status', body={'storage_manager': {'l1_manager': {'total_object_count': 'x'}}}),
    dict(kind='coordinator', method='POST', path='/cache/pins', fault='apply_then_delay', seconds=0.6),
    dict(kind='coordinator', method='DELETE', path='/cache/pins', fault='apply_then_reset'),
    dict(kind='coordinator', method='POST', path='/cache/pins', fault='reset'),
    dict(kind='coordinator', method='POST', path='/directory/lookup', fault='status', status=502),
    dict(kind='coordinator', method='GET', path='/cache/pins', fault='truncate'),
]


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts: t.Dict[str, int] = {}
        self.examples: t.Dict[str, t.List[str]] = {}

    def add(self, name: str, example: t.Optional[str] = None) -> None:
        with self.lock:
            self.counts[name] = self.counts.get(name, 0) + 1
            if example and len(self.examples.setdefault(name, [])) < 3:
                self.examples[name].append(example)


class Worker:
    """Owns NODES_PER_WORKER nodes and one token sequence; runs random operations and judges each result."""

    def __init__(self, number: int, fleet: SimFleet, tally: Tally, fault_rate: float, seed: int) -> None:
        self.fleet = fleet
        self.tally = tally
        self.fault_rate = fault_rate
        self.random = random.Random(seed + number)
        self.nodes = ['node-%04d' % (number * NODES_PER_WORKER + i) for i in range(NODES_PER_WORKER)]
        self.tokens = [100000 + number] + [9906] * (CHUNKS * 256)
        self.salt = 'tenant-%d' % number

    def pin_counts(self) -> t.List[int]:
        return [self.fleet.pin_count(self.tokens, index) for index in range(CHUNKS)]

    def tiers(self, node: str) -> t.List[t.Tuple[bool, bool]]:
        held = self.fleet.by_name[node].tiers
        keys = [key_id(key_of(self.tokens, index, 'test-model', '', 0)) for index in range(CHUNKS)]
        return [(k in held['L1'], k in held['L2']) for k in keys]

    def run(self, operations: int) -> None:
        done = 0
        while done < operations:
            try:
                done += self.one()
            except Exception:  # a bug in the collection or in the soak itself: counted, never hidden
                self.tally.add('tracebacks', traceback.format_exc(limit=4))
                done += 1

    def one(self) -> int:
        """One step: 1 when it was an operation on a server, 0 when it only changed the simulated fleet."""
        node = self.random.choice(self.nodes)
        fleet = self.fleet
        kind = self.random.choice(['clear', 'clear', 'server_info', 'pin', 'unpin', 'targeted', 'quota', 'quota_absent',
                                   'prefetch', 'refill'])
        if kind == 'refill':
            fleet.by_name[node].anonymous_objects = self.random.randint(0, 6)
            if self.random.random() < 0.5:
                fleet.store(node, self.tokens)
            return 0
        injected = None
        if self.random.random() < self.fault_rate:
            spec = dict(self.random.choice(FAULTS))
            if spec['kind'] == 'coordinator':
                spec['kind'] = spec.pop('fault')
                spec['node'] = 'coordinator'
            else:
                spec['node'] = node
            injected = fleet.fault(**spec)
            self.tally.add('faults injected')
        before_objects = fleet.by_name[node].objects
        before_pins = self.pin_counts()
        before_tiers = self.tiers(node)
        before_quota = fleet.by_name[node].quotas.get(self.salt)
        base = dict(url=fleet.url(node), timeout=0.3, retries=2, deadline=20)
        request = dict(coordinator_url=fleet.coordinator_url, model_name='test-model', token_ids=self.tokens)
        name, args = {
            'clear': ('clear', {}),
            'server_info': ('server_info', {}),
            'pin': ('pin', dict(request, include_uncached=True, max_usage=1.0)),
            'unpin': ('pin', dict(request, state='absent')),
            'targeted': ('clear', dict(request, tier=self.random.choice(['l1', 'l2', 'all']), force=True)),
            'quota': ('quota', dict(cache_salt=self.salt, limit_gb=self.random.choice([0.5, 1.0]))),
            'quota_absent': ('quota', dict(cache_salt=self.salt, state='absent')),
            'prefetch': ('prefetch', dict(request, wait_timeout=10)),
        }[kind]
        result = run(name, dict(base, **args))
        if injected is not None:
            with fleet._lock:
                if injected in fleet.faults:
                    fleet.faults.remove(injected)
        self.tally.add('operations')
        if 'Traceback' in repr(result):
            self.tally.add('tracebacks', result.get('msg'))
        if result.get('failed'):
            self.tally.add('failed (expected under faults)' if injected else 'failed without a fault', result.get('msg'))
        self.judge(kind, node, result, before_objects, before_pins, before_tiers, before_quota)
        return 1

    def judge(self, kind: str, node: str, result: t.Dict[str, t.Any], before_objects: int, before_pins: t.List[int],
              before_tiers: t.List[t.Tuple[bool, bool]], before_quota: t.Optional[float]) -> None:
        fleet = self.fleet
        changed = bool(result.get('changed'))
        failed = bool(result.get('failed'))
        if kind == 'clear':
            truly = fleet.by_name[node].objects != before_objects
            if changed != truly and not (failed and not truly and not changed):
                self.tally.add('wrong changed', '%s %s: reported %s, objects %d -> %d' % (
                    kind, node, changed, before_objects, fleet.by_name[node].objects))
        elif kind in ('pin', 'unpin'):
            after = self.pin_counts()
            if any(count > 1 for count in after):
                self.tally.add('doubled pins', '%s: %s -> %s' % (kind, before_pins, after))
            if not failed and after != ([1] * CHUNKS if kind == 'pin' else [0] * CHUNKS):
                self.tally.add('lost pins', '%s: %s -> %s (%s)' % (kind, before_pins, after, result.get('msg')))
            if changed != (after != before_pins):
                self.tally.add('wrong changed', '%s: reported %s, pins %s -> %s' % (kind, changed, before_pins, after))
        elif kind == 'targeted':
            truly = self.tiers(node) != before_tiers
            if changed != truly:
                self.tally.add('wrong changed', 'targeted clear %s: reported %s, tiers %s -> %s (%s)' % (
                    node, changed, before_tiers, self.tiers(node), result.get('msg')))
        elif kind in ('quota', 'quota_absent'):
            after = fleet.by_name[node].quotas.get(self.salt)
            if changed != (after != before_quota):
                self.tally.add('wrong changed', 'quota: reported %s, %s -> %s' % (changed, before_quota, after))
        elif kind == 'prefetch':
            truly = self.tiers(node) != before_tiers
            if changed != truly and not failed:
                self.tally.add('wrong changed', 'prefetch %s: reported %s, tiers %s -> %s'
                               % (node, changed, before_tiers, self.tiers(node)))


def run(name: str, params: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """One operation, the way its module runs it (options checked, then the skeleton)."""
    entry = OPERATIONS[name]
    spec, kwargs = argument_spec(entry.operation, entry.for_request)
    validated = ArgumentSpecValidator(spec, **kwargs).validate(params)
    if validated.error_messages:
        raise AssertionError('the soak built bad options: %s' % validated.error_messages)
    values = validated.validated_parameters
    operation, request, problems = check(entry.operation, values, entry.for_request)
    if problems:
        raise AssertionError('the soak built bad options: %s' % problems)
    ctx = Context(values, deadline=Deadline(values['deadline']))
    return execute(operation(values, ctx, request))


def main(argv: t.Optional[t.List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--operations', type=int, default=10000)
    parser.add_argument('--fault-rate', type=float, default=0.05)
    parser.add_argument('--workers', type=int, default=16)
    parser.add_argument('--seed', type=int, default=2026)
    parser.add_argument('--json', help='also write the figures to this file')
    args = parser.parse_args(argv)
    tally = Tally()
    started = time.monotonic()
    with SimFleet(nodes=args.workers * NODES_PER_WORKER, objects=4) as fleet:
        workers = [Worker(n, fleet, tally, args.fault_rate, args.seed) for n in range(args.workers)]
        share = args.operations // args.workers
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.workers) as pool:
            list(pool.map(lambda w: w.run(share), workers))
    elapsed = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    counts = tally.counts
    figures = dict(operations=counts.get('operations', 0), faults_injected=counts.get('faults injected', 0),
                   failed_under_faults=counts.get('failed (expected under faults)', 0),
                   failed_without_a_fault=counts.get('failed without a fault', 0),
                   wrong_changed=counts.get('wrong changed', 0), doubled_pins=counts.get('doubled pins', 0),
                   lost_pins=counts.get('lost pins', 0), tracebacks=counts.get('tracebacks', 0),
                   seconds=round(elapsed, 1), operations_per_second=round(counts.get('operations', 0) / elapsed, 1),
                   peak_memory_mb=round(peak, 1))
    print(json.dumps(figures, indent=2))
    for name, examples in sorted(tally.examples.items()):
        if name not in ('failed (expected under faults)',):
            for example in examples:
                print('%s: %s' % (name, str(example).strip()[:400]))
    if args.json:
        with open(args.json, 'w') as handle:
            json.dump(figures, handle, indent=2)
    bad = figures['wrong_changed'] + figures['doubled_pins'] + figures['lost_pins'] + figures['tracebacks'] \
        + figures['failed_without_a_fault']
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
