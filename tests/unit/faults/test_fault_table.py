# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults and bad input, table-driven, against the simulated fleet (tests/sim).

Each case runs one module with a fault injected (or a bad option), then checks three things: the task's outcome
(failed or not, changed or not), its message, and the server's true state afterwards (objects, pins, quotas,
writes received), so that neither a silent no-op nor a doubled write can pass.
"""

from __future__ import annotations

import email.utils
import time
import typing as t

import pytest

from ansible_collections.lmcache.kvcache.plugins.modules import (
    lmcache_kvcache_clear,
    lmcache_kvcache_info,
    lmcache_kvcache_pin,
    lmcache_kvcache_prefetch,
    lmcache_quota,
    lmcache_server_info,
)
from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet, key_id, key_of

TOKENS = [11] + [9906] * 1024  # 4 whole chunks
NODE = 'node-0000'


class Case:
    def __init__(self, name: str, module: t.Any, args: t.Dict[str, t.Any], faults: t.Sequence[t.Dict[str, t.Any]] = (),
                 failed: bool = False, changed: t.Optional[bool] = None, msg: t.Sequence[str] = (),
                 state: t.Optional[t.Callable[[SimFleet], None]] = None, setup: t.Optional[t.Callable[[SimFleet], None]] = None,
                 not_in_output: t.Sequence[str] = ()) -> None:
        self.name = name
        self.module = module
        self.args = args
        self.faults = faults
        self.failed = failed
        self.changed = changed
        self.msg = msg
        self.state = state
        self.setup = setup
        self.not_in_output = not_in_output


# -- state checks: the server's truth after the task ----------------------------------------------------------------

def objects(expected: int, clears: t.Optional[int] = None) -> t.Callable[[SimFleet], None]:
    def check(fleet: SimFleet) -> None:
        node = fleet.by_name[NODE]
        assert node.objects == expected, 'the node holds %d objects, expected %d' % (node.objects, expected)
        if clears is not None:
            assert node.clears == clears, 'the node received %d clears, expected %d' % (node.clears, clears)
    return check


def pins(expected: t.List[int], writes: t.Optional[int] = None) -> t.Callable[[SimFleet], None]:
    def check(fleet: SimFleet) -> None:
        counts = [fleet.pin_count(TOKENS, index) for index in range(4)]
        assert counts == expected, 'pin counts %s, expected %s' % (counts, expected)
        if writes is not None:
            assert fleet.coordinator.pin_writes == writes, 'the coordinator received %d pin writes, expected %d' % (
                fleet.coordinator.pin_writes, writes)
    return check


def tiers(expected: t.List[t.List[str]]) -> t.Callable[[SimFleet], None]:
    def check(fleet: SimFleet) -> None:
        node = fleet.by_name[NODE]
        found = [sorted(tier for tier in ('L1', 'L2') if key_id(key_of(TOKENS, i, 'test-model', '', 0)) in node.tiers[tier])
                 for i in range(4)]
        assert found == expected, 'chunk tiers %s, expected %s' % (found, expected)
    return check


def quotas(expected: t.Dict[str, float]) -> t.Callable[[SimFleet], None]:
    def check(fleet: SimFleet) -> None:
        assert fleet.by_name[NODE].quotas == expected
    return check


def no_request(fleet: SimFleet) -> None:
    assert fleet.by_name[NODE].requests == [], fleet.by_name[NODE].requests


def stored(fleet: SimFleet) -> None:
    fleet.store(NODE, TOKENS)


def pinned_once(fleet: SimFleet) -> None:
    fleet.store(NODE, TOKENS)
    fleet.coordinator.pin({'token_ids': TOKENS, 'model_name': 'test-model', 'world_size': 1}, 1)
    fleet.coordinator.pin_writes = 0


def quota_set(fleet: SimFleet) -> None:
    fleet.by_name[NODE].quotas['tenant-a'] = 0.25


def node(**args: t.Any) -> t.Dict[str, t.Any]:
    return dict(dict(url='URL'), **args)


def request(**args: t.Any) -> t.Dict[str, t.Any]:
    return dict(dict(url='URL', coordinator_url='COORDINATOR', token_ids=TOKENS, model_name='test-model'), **args)


def fault(kind: str, method: str, path: str, on: str = NODE, **params: t.Any) -> t.Dict[str, t.Any]:
    return dict(kind=kind, node=on, method=method, path=path, **params)


COORD = 'coordinator'
LATER = email.utils.formatdate(time.time() + 1, usegmt=True)
FAST = dict(timeout=0.5, retries=2)

CASES = [
    # -- instance-wide clear: faults on reads are retried, writes never doubled, bad answers never read as 0 --------
    Case('clear: /status slower than the deadline', lmcache_kvcache_clear, node(deadline=1.0, retries=0),
         [fault('delay', 'GET', '/status', seconds=3)], failed=True, msg=['deadline of 1s'], state=objects(4, clears=0)),
    Case('clear: /status dripping one byte at a time', lmcache_kvcache_clear, node(deadline=1.5, timeout=5, retries=0),
         [fault('drip', 'GET', '/status', interval=0.2)], failed=True,
         msg=['no complete answer before the task deadline of 1.5s'], state=objects(4, clears=0)),
    Case('clear: connection reset on /version, retried', lmcache_kvcache_clear, node(),
         [fault('reset', 'GET', '/version')], changed=True, state=objects(0, clears=1)),
    Case('clear: /status reset in the middle of its body, retried', lmcache_kvcache_clear, node(),
         [fault('reset_mid_body', 'GET', '/status')], changed=True, state=objects(0, clears=1)),
    Case('clear: /status truncated (Content-Length too long), retried', lmcache_kvcache_clear, node(),
         [fault('truncate', 'GET', '/status')], changed=True, state=objects(0, clears=1)),
    Case('clear: 429 with Retry-After in seconds', lmcache_kvcache_clear, node(),
         [fault('status', 'GET', '/status', status=429, headers={'Retry-After': '1'})], changed=True, state=objects(0, clears=1)),
    Case('clear: 429 with Retry-After as an HTTP date', lmcache_kvcache_clear, node(),
         [fault('status', 'GET', '/status', status=429, headers={'Retry-After': LATER})], changed=True, state=objects(0, clears=1)),
    Case('clear: Retry-After past the deadline fails at once', lmcache_kvcache_clear, node(deadline=5),
         [fault('status', 'GET', '/status', status=503, headers={'Retry-After': '3600'})], failed=True,
         msg=['the server asks to retry after 3600s would pass the task deadline of 5s'], state=objects(4, clears=0)),
    Case('clear: 503 on every read until retries run out', lmcache_kvcache_clear, node(retries=1),
         [fault('status', 'GET', '/status', status=503, times=5, body={'reason': 'engine not initialized'})], failed=True,
         msg=['HTTP 503', 'engine not initialized', '(after 2 attempts)'], state=objects(4, clears=0)),
    Case('clear: 503 on the clear is retried (not carried out)', lmcache_kvcache_clear, node(),
         [fault('status', 'POST', '/cache/clear', status=503)], changed=True, state=objects(0, clears=1)),
    Case('clear: 429 on the clear is retried (not carried out)', lmcache_kvcache_clear, node(),
         [fault('status', 'POST', '/cache/clear', status=429, headers={'Retry-After': '0'})], changed=True,
         state=objects(0, clears=1)),
    Case('clear: 500 on the clear fails with the server text', lmcache_kvcache_clear, node(),
         [fault('status', 'POST', '/cache/clear', status=500, body={'detail': 'storage manager exploded'})], failed=True,
         changed=False, msg=['POST', '/cache/clear failed: HTTP 500 Internal Server Error: storage manager exploded'],
         state=objects(4, clears=0)),
    Case('clear: 502 on the clear, not carried out: a fresh read shows it and it is applied once', lmcache_kvcache_clear,
         node(), [fault('status', 'POST', '/cache/clear', status=502, body={'detail': 'upstream reset'})], changed=True,
         state=objects(0, clears=1)),
    Case('clear: applied but answered late: reconciled, not sent again', lmcache_kvcache_clear, node(**FAST),
         [fault('apply_then_delay', 'POST', '/cache/clear', seconds=2)], changed=True, state=objects(0, clears=1)),
    Case('clear: applied then the connection reset: reconciled, not sent again', lmcache_kvcache_clear, node(),
         [fault('apply_then_reset', 'POST', '/cache/clear')], changed=True, state=objects(0, clears=1)),
    Case('clear: an HTML page instead of /status', lmcache_kvcache_clear, node(),
         [fault('html', 'GET', '/status')], failed=True, msg=['expected a JSON object', 'Welcome to nginx!'],
         state=objects(4, clears=0)),
    Case('clear: a 20 MB /status is refused, not read', lmcache_kvcache_clear, node(),
         [fault('huge', 'GET', '/status', bytes=20 * 1024 * 1024)], failed=True, msg=['more than the 8388608 this request accepts'],
         state=objects(4, clears=0)),
    Case('clear: a redirect on the clear is not followed', lmcache_kvcache_clear, node(),
         [fault('redirect', 'POST', '/cache/clear', location='/elsewhere/cache/clear')], failed=True,
         msg=['redirects to /elsewhere/cache/clear; the request was not carried out'], state=objects(4, clears=0)),
    Case('clear: object count as a string', lmcache_kvcache_clear, node(),
         [fault('body', 'GET', '/status', body={'storage_manager': {'l1_manager': {
             'total_object_count': '4', 'memory_used_bytes': 16777216, 'memory_total_bytes': 1073741824}}})],
         failed=True, msg=["total_object_count from the answer: '4' (a string)"], state=objects(4, clears=0)),
    Case('clear: object count null', lmcache_kvcache_clear, node(),
         [fault('body', 'GET', '/status', body={'storage_manager': {'l1_manager': {
             'total_object_count': None, 'memory_used_bytes': 0, 'memory_total_bytes': 1073741824}}})],
         failed=True, msg=['total_object_count from the answer: None (null)'], state=objects(4, clears=0)),
    Case('clear: negative object count', lmcache_kvcache_clear, node(),
         [fault('body', 'GET', '/status', body={'storage_manager': {'l1_manager': {
             'total_object_count': -4, 'memory_used_bytes': 0, 'memory_total_bytes': 1073741824}}})],
         failed=True, msg=['total_object_count from the answer: -4'], state=objects(4, clears=0)),
    Case('clear: no L1 section in /status', lmcache_kvcache_clear, node(),
         [fault('body', 'GET', '/status', body={'is_healthy': True, 'storage_manager': {'is_healthy': True}})],
         failed=True, msg=['storage_manager.l1_manager from the answer: missing'], state=objects(4, clears=0)),
    Case('clear: /status a JSON list', lmcache_kvcache_clear, node(),
         [fault('body', 'GET', '/status', body=[1, 2])], failed=True, msg=['expected a JSON object'],
         state=objects(4, clears=0)),
    Case('clear: /version not a string', lmcache_kvcache_clear, node(),
         [fault('body', 'GET', '/version', body={'v': 1})], failed=True, msg=['cannot read the version'],
         state=objects(4, clears=0)),
    Case('clear: /openapi.json 500 and no probe route', lmcache_kvcache_clear, node(),
         [fault('status', 'GET', '/openapi.json', status=500), fault('status', 'GET', '/cache/clear', status=404)],
         failed=True, msg=['does not look like an LMCache server'], state=objects(4, clears=0)),

    # -- server info -------------------------------------------------------------------------------------------------
    Case('server_info: a starting server is unhealthy, not failed', lmcache_server_info, node(),
         [fault('status', 'GET', '/healthcheck', status=503, body={'status': 'unhealthy', 'reason': 'engine not initialized'})],
         changed=False, msg=['is not healthy: engine not initialized'], state=objects(4, clears=0)),
    Case('server_info: quotas answered with a wrong shape cost the field, not the health', lmcache_server_info, node(),
         [fault('body', 'GET', '/quota', body={'users': [1]})], msg=['is healthy'], state=objects(4)),
    Case('server_info: memory used above the total', lmcache_server_info, node(),
         [fault('body', 'GET', '/status', body={'storage_manager': {'l1_manager': {
             'total_object_count': 4, 'memory_used_bytes': 2 ** 40, 'memory_total_bytes': 1073741824}}})],
         failed=True, msg=['expected at most memory_total_bytes'], state=objects(4)),

    # -- pins: a counted write is never doubled ----------------------------------------------------------------------
    Case('pin: applied but answered late: one pin, not two', lmcache_kvcache_pin, request(**FAST),
         [fault('apply_then_delay', 'POST', '/cache/pins', on=COORD, seconds=2)], changed=True, setup=stored,
         state=pins([1, 1, 1, 1], writes=1)),
    Case('unpin: applied but answered late: not taken off twice', lmcache_kvcache_pin, request(state='absent', **FAST),
         [fault('apply_then_delay', 'DELETE', '/cache/pins', on=COORD, seconds=2)], changed=True, setup=pinned_once,
         state=pins([0, 0, 0, 0], writes=1)),
    Case('pin: applied then reset: one pin', lmcache_kvcache_pin, request(),
         [fault('apply_then_reset', 'POST', '/cache/pins', on=COORD)], changed=True, setup=stored,
         state=pins([1, 1, 1, 1], writes=1)),
    Case('pin: reset before it was applied: applied once', lmcache_kvcache_pin, request(),
         [fault('reset', 'POST', '/cache/pins', on=COORD)], changed=True, setup=stored, state=pins([1, 1, 1, 1], writes=1)),
    Case('pin: 503 is retried', lmcache_kvcache_pin, request(),
         [fault('status', 'POST', '/cache/pins', on=COORD, status=503)], changed=True, setup=stored,
         state=pins([1, 1, 1, 1], writes=1)),
    Case('pin: 500 fails, nothing pinned', lmcache_kvcache_pin, request(),
         [fault('status', 'POST', '/cache/pins', on=COORD, status=500, body={'error': 'pin registry locked'})], failed=True,
         changed=False, msg=['HTTP 500', 'pin registry locked'], setup=stored, state=pins([0, 0, 0, 0], writes=0)),
    Case('pin: the lookup answers a wrong shape', lmcache_kvcache_pin, request(),
         [fault('body', 'POST', '/directory/lookup', on=COORD, body={'results': 'none'})], failed=True,
         msg=["cannot read results from the answer: 'none' (a string), expected a list"], setup=stored,
         state=pins([0, 0, 0, 0], writes=0)),
    Case('pin: the lookup answers fewer keys than chunks', lmcache_kvcache_pin, request(),
         [fault('body', 'POST', '/directory/lookup', on=COORD, body={'chunks': 1, 'results': []})], failed=True,
         msg=['the directory answered 0 chunk keys for 4 chunks'], setup=stored, state=pins([0, 0, 0, 0], writes=0)),
    Case('pin: a pin count that is not a number', lmcache_kvcache_pin, request(),
         [fault('body', 'GET', '/cache/pins', on=COORD, body={'total': 1, 'pins': [{'key': {}, 'pin_count': 'x'}]})],
         failed=True, msg=["cannot read pins[0].pin_count"], setup=stored, state=pins([0, 0, 0, 0], writes=0)),
    Case('pin: a usage ratio that is not a number', lmcache_kvcache_pin, request(),
         [fault('body', 'GET', '/instances/usage', on=COORD, body={'instances': [
             {'instance_id': NODE, 'modules': [{'tier': 'l1', 'usage_ratio': 'high'}]}]})],
         failed=True, msg=["L1 usage_ratio: 'high'"], setup=stored, state=pins([0, 0, 0, 0], writes=0)),
    Case('pin: the coordinator is down', lmcache_kvcache_pin, request(coordinator_url='http://127.0.0.1:9', retries=0),
         failed=True, msg=['cannot connect to http://127.0.0.1:9 (Connection refused)'], setup=stored,
         state=pins([0, 0, 0, 0], writes=0)),
    Case('info: the coordinator answers HTML', lmcache_kvcache_info, request(),
         [fault('html', 'POST', '/directory/lookup', on=COORD)], failed=True, msg=['expected a JSON object'], setup=stored,
         state=pins([0, 0, 0, 0], writes=0)),

    # -- targeted clears ---------------------------------------------------------------------------------------------
    Case('targeted clear: node delete applied but answered late: reconciled', lmcache_kvcache_clear, request(tier='l1', **FAST),
         [fault('apply_then_delay', 'DELETE', '/cache/objects', seconds=2)], changed=True, setup=stored,
         state=tiers([['L2']] * 4)),
    Case('targeted clear: coordinator delete to a keyed node (502 with its 401)', lmcache_kvcache_clear,
         request(tier='l1', delete_via='coordinator'),
         [fault('status', 'POST', '/cache/delete', on=COORD, status=502, body={
             'detail': "delete to 'node-0000' failed: Client error '401 Unauthorized'"})],
         failed=True, msg=['401 Unauthorized', 'not retried'], setup=stored, state=tiers([['L1', 'L2']] * 4)),
    Case('targeted clear: the node refuses the delete (500)', lmcache_kvcache_clear, request(tier='all'),
         [fault('status', 'DELETE', '/cache/objects', status=500, body={'detail': 'adapter offline'})], failed=True,
         changed=False, msg=['adapter offline'], setup=stored, state=tiers([['L1', 'L2']] * 4)),

    # -- quotas ------------------------------------------------------------------------------------------------------
    Case('quota: set, answered late: reconciled', lmcache_quota, node(cache_salt='tenant-a', limit_gb=0.5, **FAST),
         [fault('apply_then_delay', 'PUT', '/quota/tenant-a', seconds=2)], changed=True, state=quotas({'tenant-a': 0.5})),
    Case('quota: 500 on set: unchanged', lmcache_quota, node(cache_salt='tenant-a', limit_gb=0.5),
         [fault('status', 'PUT', '/quota/tenant-a', status=500, body={'error': 'boom'})], failed=True, changed=False,
         msg=['HTTP 500', 'boom'], setup=quota_set, state=quotas({'tenant-a': 0.25})),
    Case('quota: a limit that is not a number', lmcache_quota, node(cache_salt='tenant-a', limit_gb=0.5),
         [fault('body', 'GET', '/quota/tenant-a', body={'cache_salt': 'tenant-a', 'limit_gb': 'lots', 'exists': True})],
         failed=True, msg=["cannot read limit_gb from the answer: 'lots'"], setup=quota_set, state=quotas({'tenant-a': 0.25})),
    Case('quota: removal answered late: reconciled', lmcache_quota, node(cache_salt='tenant-a', state='absent', **FAST),
         [fault('apply_then_delay', 'DELETE', '/quota/tenant-a', seconds=2)], changed=True, setup=quota_set,
         state=quotas({})),

    # -- prefetch ----------------------------------------------------------------------------------------------------
    Case('prefetch: a model with no serving engine (the node\'s 503)', lmcache_kvcache_prefetch,
         request(model_name='nobody', retries=0), failed=True, msg=['no layout registered for model_name=nobody'],
         setup=lambda f: f.store(NODE, TOKENS, model='nobody', tiers=('L2',)), state=tiers([[]] * 4)),
    Case('prefetch: the job answers a wrong shape', lmcache_kvcache_prefetch, request(),
         [fault('body', 'POST', '/cache/prefetches', status=202, body={'request_id': 'x'})], failed=True,
         msg=['cannot read status from the answer: missing'], setup=lambda f: f.store(NODE, TOKENS, tiers=('L2',)),
         state=tiers([['L2']] * 4)),

    # -- bad input: refused before any request, nothing changed, no secret shown ------------------------------------
    Case('bad: credentials in url', lmcache_kvcache_clear, node(url='http://admin:hunter2@127.0.0.1:9'), failed=True,
         msg=['url must not carry credentials'], state=objects(4, clears=0), not_in_output=['hunter2']),
    Case('bad: api_key with a key file\'s newline is accepted, never shown', lmcache_server_info,
         node(api_key='s3cr3t-k3y\n'), changed=False, state=objects(4), not_in_output=['s3cr3t']),
    Case('bad: api_key with non-Latin-1 characters', lmcache_kvcache_clear, node(api_key='k\u00e9y-\u4e2d\u6587-s3cr3t'),
         failed=True, msg=['api_key contains characters an HTTP header cannot carry'], state=objects(4, clears=0),
         not_in_output=['s3cr3t']),
    Case('bad: api_key with a space inside', lmcache_kvcache_clear, node(api_key='two s3cr3t words'), failed=True,
         msg=['api_key contains characters'], state=objects(4, clears=0), not_in_output=['s3cr3t']),
    Case('bad: timeout nan', lmcache_kvcache_clear, node(timeout='nan'), failed=True,
         msg=['timeout must be a finite number of seconds, got nan'], state=objects(4, clears=0)),
    Case('bad: timeout inf', lmcache_kvcache_clear, node(timeout='inf'), failed=True,
         msg=['timeout must be a finite number of seconds, got inf'], state=objects(4, clears=0)),
    Case('bad: retries 1000', lmcache_kvcache_clear, node(retries=1000), failed=True,
         msg=['retries must be from 0 to 10, got 1000'], state=objects(4, clears=0)),
    Case('bad: deadline 0', lmcache_kvcache_clear, node(deadline=0), failed=True,
         msg=['deadline must be greater than 0'], state=objects(4, clears=0)),
    Case('bad: url http://[::1', lmcache_kvcache_clear, node(url='http://[::1'), failed=True,
         msg=['url is not a valid URL (Invalid IPv6 URL)'], state=objects(4, clears=0)),
    Case('bad: a space in the host', lmcache_kvcache_clear, node(url='http://bad host:8080'), failed=True,
         msg=['url must not contain spaces'], state=objects(4, clears=0)),
    Case('bad: a space in the path', lmcache_kvcache_clear, node(url='http://127.0.0.1:8080/a b'), failed=True,
         msg=['url must not contain spaces'], state=objects(4, clears=0)),
    Case('bad: a token id of 2**40', lmcache_kvcache_pin, request(token_ids=[1] * 255 + [2 ** 40]), failed=True,
         msg=['token_ids must be vocabulary indices from 0 to 2147483647; got 1099511627776'], setup=stored,
         state=pins([0, 0, 0, 0], writes=0)),
    Case('bad: quota of -1 GB', lmcache_quota, node(cache_salt='tenant-a', limit_gb=-1), failed=True,
         msg=['limit_gb must be greater than 0'], setup=quota_set, state=quotas({'tenant-a': 0.25})),
    Case('bad: quota of 10 PB', lmcache_quota, node(cache_salt='tenant-a', limit_gb=1e7), failed=True,
         msg=['limit_gb must be greater than 0 and at most 1048576'], setup=quota_set, state=quotas({'tenant-a': 0.25})),
    Case('bad: prefetch of zero tokens', lmcache_kvcache_prefetch, request(token_ids=[1] * 5), failed=True,
         msg=['less than one chunk'], state=no_request),
    Case('bad: prefetch with wait_timeout 0', lmcache_kvcache_prefetch, request(wait_timeout=0), failed=True,
         msg=['wait_timeout must be greater than 0'], state=no_request),
    Case('bad: a delete of another model\'s keys changes nothing', lmcache_kvcache_clear,
         request(model_name='other-model', tier='all'), changed=False, msg=['Nothing to delete'], setup=stored,
         state=tiers([['L1', 'L2']] * 4)),
]


@pytest.fixture
def fleet() -> t.Iterator[SimFleet]:
    with SimFleet(nodes=2, objects=4) as simulated:
        yield simulated


def resolve(value: t.Any, fleet: SimFleet) -> t.Any:
    return {'URL': fleet.url(NODE), 'COORDINATOR': fleet.coordinator_url}.get(value, value) if isinstance(value, str) else value


@pytest.mark.parametrize('case', CASES, ids=[c.name for c in CASES])
def test_fault(case: Case, fleet: SimFleet, run_module: t.Any, capsys: t.Any) -> None:
    if case.setup:
        case.setup(fleet)
    fleet.by_name[NODE].requests = []
    for spec in case.faults:
        fleet.fault(**spec)
    args = dict((name, resolve(value, fleet)) for name, value in case.args.items())
    result = run_module(case.module, args)
    text = repr(result)
    assert bool(result.get('failed')) == case.failed, result.get('msg')
    assert 'exception' not in result and 'Traceback' not in text
    if case.changed is not None:
        assert result['changed'] is case.changed, result.get('msg')
    for part in case.msg:
        assert part in result['msg'], result['msg']
    for secret in case.not_in_output:
        assert secret not in text
    for field in ('url', 'status', 'api_generation', 'version', 'msg', 'changed'):
        assert field in result, 'the result has no %s: %s' % (field, result)
    if case.state:
        case.state(fleet)


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 60 or len(CASES) + len(OTHER_SUITES) >= 60


# The fan-out, the inventory and the roles have their own fault cases (test_fanout_faults.py, run by ansible).
OTHER_SUITES = ['fan-out: an unreachable endpoint among many', 'fan-out: a host without lmcache_url',
                'fan-out: duplicate URLs', 'fan-out: concurrency 0', 'fan-out: concurrency 10000',
                'fan-out: an empty host list', 'fan-out: a batch larger than the fleet', 'fan-out: a failed canary',
                'inventory: coordinator down', 'inventory: wrong URL', 'inventory: a payload of the wrong shape',
                'role kvcache_clear: an unhealthy node', 'role kvcache_pin: token pins in host scope',
                'roles: the key from LMCACHE_API_KEY']
