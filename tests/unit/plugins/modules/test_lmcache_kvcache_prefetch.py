# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache_kvcache_prefetch on the simulated fleet; L1 is checked on the node afterwards."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_kvcache_prefetch
from ansible_collections.lmcache.kvcache.tests.sim.server import key_id, key_of

TOKENS = [5] + [9906] * 512


def prefetch(sim, **args):
    return dict(dict(url=sim.url('node-0000'), coordinator_url=sim.coordinator_url, token_ids=TOKENS,
                     model_name='test-model'), **args)


def in_l1(sim):
    node = sim.by_name['node-0000']
    return [key_id(key_of(TOKENS, i, 'test-model', '', 0)) in node.tiers['L1'] for i in range(2)]


def test_warms_l2_chunks_into_l1_then_is_unchanged(sim, run_module):
    sim.store('node-0000', TOKENS, tiers=('L2',))
    first = run_module(lmcache_kvcache_prefetch, prefetch(sim), diff=True)
    assert first['changed'] is True and first['chunks_warmed'] == [0, 1] and in_l1(sim) == [True, True]
    assert (first['prefetch_status'], first['found_keys'], first['total_keys']) == ('completed', 2, 2)
    assert first['diff']['before']['0:256'] == {'locations': ['L2']}
    second = run_module(lmcache_kvcache_prefetch, prefetch(sim))
    assert second['changed'] is False and 'every chunk' in second['msg']
    assert len([r for r in sim.by_name['node-0000'].requests if r[0] == 'POST']) == 1


def test_check_mode_submits_nothing(sim, run_module):
    sim.store('node-0000', TOKENS, tiers=('L2',))
    result = run_module(lmcache_kvcache_prefetch, prefetch(sim), check_mode=True)
    assert result['changed'] is True and result['msg'].startswith('Would prefetch 2 chunks')
    assert in_l1(sim) == [False, False]


def test_chunks_in_neither_tier_are_not_submitted(sim, run_module):
    result = run_module(lmcache_kvcache_prefetch, prefetch(sim))
    assert result['changed'] is False and 'in neither L1 nor L2' in result['msg']


def test_a_model_without_a_serving_engine_is_the_nodes_503(sim, run_module, no_sleep):
    sim.store('node-0000', TOKENS, tiers=('L2',), model='other-model')
    result = run_module(lmcache_kvcache_prefetch, prefetch(sim, model_name='other-model', retries=0))
    assert result['failed'] is True and 'HTTP 503 Service Unavailable: no layout registered for model_name=other-model' in result['msg']


@pytest.mark.parametrize('args, problem', [
    (dict(token_ids=[1] * 10), 'less than one chunk (256): there is nothing to prefetch'),
    (dict(wait_timeout=0), 'wait_timeout must be greater than 0 and at most deadline'),
    (dict(wait_timeout=500), 'wait_timeout must be greater than 0 and at most deadline (120.0), got 500.0'),
    (dict(token_ids=None, request_id='r-1'), 'prefetch takes token_ids'),
])
def test_bad_prefetches_submit_nothing(sim, run_module, args, problem):
    args = prefetch(sim, **args)
    result = run_module(lmcache_kvcache_prefetch, dict((k, v) for k, v in args.items() if v is not None))
    assert result['failed'] is True and problem in result['msg']
    assert sim.by_name['node-0000'].requests == []


def test_without_a_coordinator_the_job_result_is_reported(sim, run_module):
    sim.store('node-0000', TOKENS, tiers=('L2',))
    args = dict((k, v) for k, v in prefetch(sim).items() if k != 'coordinator_url')
    result = run_module(lmcache_kvcache_prefetch, args)
    assert result['found_keys'] == 2 and result['chunks_warmed'] is None and in_l1(sim) == [True, True]
    assert result['changed'] is True
    again = run_module(lmcache_kvcache_prefetch, args)
    assert again['changed'] is False and again['found_keys'] == 2


def test_through_the_coordinator(sim, run_module):
    sim.store('node-0001', TOKENS, tiers=('L2',))
    args = dict(prefetch(sim), url='http://127.0.0.1:9', instance_id='node-0001', prefetch_via='coordinator')
    result = run_module(lmcache_kvcache_prefetch, args)
    assert result['changed'] is True and result['chunks_warmed'] == [0, 1], result['msg']
    node = sim.by_name['node-0001']
    assert all(key_id(key_of(TOKENS, i, 'test-model', '', 0)) in node.tiers['L1'] for i in range(2))
    assert run_module(lmcache_kvcache_prefetch, args)['changed'] is False
