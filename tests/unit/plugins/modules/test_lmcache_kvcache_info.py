# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_kvcache_info
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer

TOKENS = [3] + [9906] * 1024


def test_reports_where_each_chunk_lives(sim, run_module):
    sim.store('node-0000', TOKENS, chunks=2)
    sim.store('node-0001', TOKENS, tiers=('L2',), chunks=3)
    sim.coordinator.pin({'token_ids': TOKENS[:256], 'model_name': 'test-model', 'world_size': 1}, 2)
    result = run_module(lmcache_kvcache_info, dict(coordinator_url=sim.coordinator_url, token_ids=TOKENS,
                                                   model_name='test-model', start=0, end=1024))
    assert result['changed'] is False
    assert [c['locations'] for c in result['chunks']] == [['L1', 'L2'], ['L1', 'L2'], ['L2'], []]
    assert result['chunks'][2]['placements'] == [{'instance_id': 'node-0001', 'tier': 'L2'}]
    assert (result['chunks'][0]['pinned'], result['chunks'][0]['pin_count']) == (True, 2)
    assert (result['total_chunks'], result['cached_chunks'], result['pinned_chunks'], result['cached_tokens']) == (4, 3, 1, 768)
    assert result['msg'] == '3 of 4 chunks of %s are cached, 1 pinned.' % result['target']
    assert (result['api_generation'], result['version']) == (None, None)


def test_by_request_id_on_a_server_without_the_design_endpoints(fake_server, run_module):
    fake_server.lmcache('G3')
    result = run_module(lmcache_kvcache_info, {'url': fake_server.url, 'request_id': 'req-1'})
    assert result['failed'] is True
    assert 'has no per-request endpoint GET /kvcache-info or GET /api/kvcache-info' in result['msg']
    assert result['api_generation'] == 'G3' and result['version'] == '0.5.6-g3e11e108'


def test_by_request_id_a_malformed_chunk_is_named(fake_server, run_module):
    fake_server.lmcache('G3', extra_routes=['/kvcache-info'])
    fake_server.on('GET', '/kvcache-info', Answer(body={'chunks': [{'index': '0', 'start': 0, 'end': 256}]}))
    result = run_module(lmcache_kvcache_info, {'url': fake_server.url, 'request_id': 'req-1'})
    assert result['failed'] is True and "cannot read chunks[0].index from the answer: '0' (a string)" in result['msg']


def test_runs_in_check_mode(sim, run_module):
    result = run_module(lmcache_kvcache_info, dict(coordinator_url=sim.coordinator_url, token_ids=TOKENS,
                                                   model_name='test-model'), check_mode=True)
    assert result['changed'] is False and result['cached_chunks'] == 0
