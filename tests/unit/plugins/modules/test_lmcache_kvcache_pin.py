# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache_kvcache_pin on the simulated coordinator; every claim is checked on its reference-counted pins."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_kvcache_pin

TOKENS = [7] + [9906] * 1024


def pin(sim, **args):
    return dict(dict(coordinator_url=sim.coordinator_url, token_ids=TOKENS, model_name='test-model'), **args)


def counts(sim):
    return [sim.pin_count(TOKENS, index) for index in range(4)]


def test_pin_is_idempotent_on_counted_pins(sim, run_module):
    sim.store('node-0000', TOKENS)
    first = run_module(lmcache_kvcache_pin, pin(sim), diff=True)
    assert first['changed'] is True and first['chunks_changed'] == [0, 1, 2, 3] and counts(sim) == [1, 1, 1, 1]
    assert first['diff']['before']['0:256'] == {'pinned': False, 'pin_count': 0}
    assert first['coordinator_url'] == sim.coordinator_url and first['status'] == 200
    second = run_module(lmcache_kvcache_pin, pin(sim))
    assert second['changed'] is False and counts(sim) == [1, 1, 1, 1]
    unpinned = run_module(lmcache_kvcache_pin, pin(sim, state='absent'))
    assert unpinned['changed'] is True and counts(sim) == [0, 0, 0, 0]


def test_a_range_pin_leaves_the_chunks_before_it_as_they_were(sim, run_module):
    sim.store('node-0000', TOKENS)
    sim.coordinator.pin({'token_ids': TOKENS[:256], 'model_name': 'test-model', 'world_size': 1}, 1)
    result = run_module(lmcache_kvcache_pin, pin(sim, start=512))
    assert result['chunks_changed'] == [2, 3] and counts(sim) == [1, 0, 1, 1]


def test_check_mode_pins_nothing(sim, run_module):
    sim.store('node-0000', TOKENS)
    result = run_module(lmcache_kvcache_pin, pin(sim), check_mode=True)
    assert result['changed'] is True and result['msg'].startswith('Would pin 4 chunks')
    assert counts(sim) == [0, 0, 0, 0] and sim.coordinator.pin_writes == 0


def test_uncached_chunks_are_not_pinned_unless_asked(sim, run_module):
    sim.store('node-0000', TOKENS, chunks=2)
    result = run_module(lmcache_kvcache_pin, pin(sim))
    assert result['uncached_chunks'] == [2, 3] and counts(sim) == [1, 1, 0, 0]
    assert 'Not cached, so not pinned: chunks 2, 3.' in result['msg']
    run_module(lmcache_kvcache_pin, pin(sim, include_uncached=True))
    assert counts(sim) == [1, 1, 1, 1]


@pytest.mark.parametrize('method, state, start_counts', [('POST', 'present', 0), ('DELETE', 'absent', 1)])
def test_a_pin_applied_but_answered_late_is_not_sent_again(sim, run_module, method, state, start_counts):
    sim.store('node-0000', TOKENS)
    if start_counts:
        sim.coordinator.pin({'token_ids': TOKENS, 'model_name': 'test-model', 'world_size': 1}, 1)
    sim.fault('apply_then_delay', node='coordinator', method=method, path='/cache/pins', seconds=2)
    result = run_module(lmcache_kvcache_pin, pin(sim, state=state, timeout=0.5))
    assert 'failed' not in result, result['msg']
    assert result['changed'] is True and counts(sim) == [1 - start_counts] * 4
    assert sim.coordinator.pin_writes == 1 + start_counts
    assert any('a fresh read shows it was carried out' in w for w in result['warnings'])


def test_a_pin_lost_before_it_was_applied_is_completed(sim, run_module):
    sim.store('node-0000', TOKENS)
    sim.fault('reset', node='coordinator', method='POST', path='/cache/pins')
    result = run_module(lmcache_kvcache_pin, pin(sim))
    assert result['changed'] is True and counts(sim) == [1, 1, 1, 1]
    assert any('applying the rest' in w for w in result['warnings'])


def test_a_pin_is_rejected_under_memory_pressure(sim, run_module):
    sim.store('node-0000', TOKENS)
    sim.by_name['node-0000'].objects = 230
    result = run_module(lmcache_kvcache_pin, pin(sim))
    assert result['failed'] is True and result['rejected'] is True and result['changed'] is False
    assert result['reason'] == 'L1 memory pressure (90%) on node-0000, at or above max_usage (80%)'
    assert counts(sim) == [0, 0, 0, 0]
    soft = run_module(lmcache_kvcache_pin, pin(sim, fail_on_rejected=False))
    assert 'failed' not in soft and soft['rejected'] is True and soft['msg'].startswith('Pin of the 1025-token sequence')


@pytest.mark.parametrize('args, problem', [
    (dict(max_usage=0), 'max_usage must be greater than 0 and at most 1'),
    (dict(max_usage=1.5), 'max_usage must be greater than 0 and at most 1'),
    (dict(token_ids=[1, 2 ** 40]), 'token_ids must be vocabulary indices from 0 to 2147483647'),
    (dict(coordinator_url=None), 'token_ids needs coordinator_url'),
    (dict(model_name=None), "missing parameter(s) required by 'token_ids': model_name"),
    (dict(request_id='r-1'), 'parameters are mutually exclusive: request_id|token_ids|token_ids_file'),
    (dict(start=512, end=256), 'start must be less than end'),
])
def test_bad_pins_send_nothing(sim, run_module, args, problem):
    result = run_module(lmcache_kvcache_pin, pin(sim, **args))
    assert result['failed'] is True and problem in result['msg']
    assert sim.coordinator.pin_writes == 0


def test_a_long_request_from_a_token_file(sim, run_module, tmp_path):
    path = tmp_path / 'tokens.txt'
    path.write_text(' '.join(map(str, TOKENS)))
    sim.store('node-0000', TOKENS)
    result = run_module(lmcache_kvcache_pin, dict(coordinator_url=sim.coordinator_url, token_ids_file=str(path),
                                                  model_name='test-model'))
    assert result['changed'] is True and counts(sim) == [1, 1, 1, 1]
