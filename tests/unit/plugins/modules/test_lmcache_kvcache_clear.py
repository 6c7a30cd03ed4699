# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_kvcache_clear
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer, status_body

MB4 = 4194304


def test_clears_a_populated_g3_server(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is True
    assert (result['objects_cleared'], result['bytes_cleared']) == (4, 4 * MB4)
    assert result['before'] == {'objects': 4, 'bytes_used': 4 * MB4}
    assert result['after'] == {'objects': 0, 'bytes_used': 0}
    assert (result['api_generation'], result['version'], result['status']) == ('G3', '0.5.6-g3e11e108', 200)
    assert result['forced'] is False
    assert [r['body'] for r in fake_server.sent('POST', '/cache/clear')] == [{'tier': 'l1', 'force': False}]
    assert result['msg'] == ('Cleared 4 objects (16.00 MB) from L1 of %s (LMCache 0.5.6-g3e11e108, API G3).' % fake_server.url)


def test_force_is_sent_to_g3(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url, 'force': True})
    assert result['forced'] is True
    assert fake_server.sent('POST', '/cache/clear')[0]['body'] == {'tier': 'l1', 'force': True}


def test_empty_cache_is_not_cleared_and_not_changed(fake_server, run_module):
    fake_server.lmcache('G3', objects=0)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is False and result['objects_cleared'] == 0
    assert fake_server.sent('POST', '/cache/clear') == []
    assert result['msg'].endswith('is already empty.')


def test_check_mode_sends_no_clear_and_says_what_would_go(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url}, check_mode=True, diff=True)
    assert result['changed'] is True and result['objects_cleared'] == 4
    assert fake_server.sent('POST', '/cache/clear') == []
    assert result['msg'].startswith('Would clear 4 objects')
    assert result['diff'] == {'before': {'l1': {'objects': 4, 'bytes_used': 4 * MB4}},
                              'after': {'l1': {'objects': 0, 'bytes_used': 0}}}


def test_check_mode_on_an_empty_cache_is_unchanged(fake_server, run_module):
    fake_server.lmcache('G3', objects=0)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url}, check_mode=True)
    assert result['changed'] is False


def test_no_diff_unless_asked(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    assert 'diff' not in run_module(lmcache_kvcache_clear, {'url': fake_server.url})


@pytest.mark.parametrize('generation, version, clear', [
    ('G1', None, '/api/clear-cache'), ('G2', '0.5.0-g389b9cfc', '/clear-cache'), ('G3', '0.5.3-gabc', '/cache/clear'),
])
def test_older_servers_always_force_and_say_so(fake_server, run_module, generation, version, clear):
    fake_server.lmcache(generation, objects=2, version=version or '')
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is True and result['forced'] is True and result['objects_cleared'] == 2
    assert 'always force-clears' in result['msg']
    assert len(fake_server.sent('POST', clear)) == 1


def locked_status(objects, locked):
    body = status_body(objects)
    body['storage_manager']['l1_manager']['read_locked_count'] = locked
    return body


def test_objects_in_use_stay_after_a_non_forced_clear_and_are_warned_about(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    fake_server.on('GET', '/status', Answer(body=locked_status(4, 1)), Answer(body=locked_status(1, 1)))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['objects_cleared'] == 3 and result['bytes_cleared'] == 3 * MB4 and result['after']['objects'] == 1
    assert any('1 object(s) in L1 after the clear' in w and 'force=true' in w for w in result['warnings'])


def test_objects_in_use_past_max_remaining_fail_the_clear_that_happened(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    fake_server.on('GET', '/status', Answer(body=locked_status(4, 1)), Answer(body=locked_status(1, 1)))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url, 'max_remaining': 0})
    # The clear was sent and carried out: failed, but changed, with what is left.
    assert result['failed'] is True and result['changed'] is True
    assert result['objects_cleared'] == 3 and result['after']['objects'] == 1
    assert result['msg'].startswith('1 objects remain in L1 of %s after the clear, more than max_remaining=0: in use by '
                                    'in-flight requests (force=true drops them too)?' % fake_server.url)
    assert 'Cleared 3 objects' in result['msg']
    assert len(fake_server.sent('POST', '/cache/clear')) == 1
    # The failure says it: no warning that repeats it.
    assert not any('after the clear' in w for w in result.get('warnings', []))


@pytest.mark.parametrize('objects_after, limit, check_mode', [(1, 1, False), (0, 0, False), (1, 0, True)])
def test_what_remains_within_max_remaining_or_in_check_mode_does_not_fail(
        fake_server, run_module, objects_after, limit, check_mode):
    fake_server.lmcache('G3', objects=4)
    fake_server.on('GET', '/status', Answer(body=locked_status(4, 1)), Answer(body=locked_status(objects_after, objects_after)))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url, 'max_remaining': limit}, check_mode=check_mode)
    assert 'failed' not in result and result['changed'] is True


def test_a_clear_on_a_serving_node_that_stores_more_meanwhile_is_still_a_change(fake_server, run_module):
    # The server cleared 4 objects, then in-flight requests stored 6: the clear changed the server, but by the
    # server's counts no object left L1, and the result does not claim any did.
    fake_server.lmcache('G3', objects=4)
    fake_server.on('GET', '/status', Answer(body=status_body(4)), Answer(body=status_body(6)))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is True and result['objects_cleared'] == 0
    assert 'by its counts nothing left L1' in result['msg'] and 'Cleared' not in result['msg']
    assert result['before']['objects'] == 4 and result['after']['objects'] == 6
    assert len(fake_server.sent('POST', '/cache/clear')) == 1


@pytest.mark.parametrize('count', ['4', None, -4, 4.5, True])
def test_an_unreadable_object_count_fails_and_sends_no_clear(fake_server, run_module, count):
    body = status_body(4)
    body['storage_manager']['l1_manager']['total_object_count'] = count
    if count is None:
        del body['storage_manager']['l1_manager']['total_object_count']
    fake_server.lmcache('G3', objects=4)
    fake_server.on('GET', '/status', Answer(body=body))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['failed'] is True and result['changed'] is False
    assert 'cannot read storage_manager.l1_manager.total_object_count' in result['msg']
    assert fake_server.sent('POST', '/cache/clear') == []


def test_a_clear_whose_answer_is_lost_is_reconciled_from_a_fresh_read(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    fake_server.on('POST', '/cache/clear', Answer(200, {'status': 'ok'}, delay=0.5))
    fake_server.on('GET', '/status', Answer(body=status_body(4)), Answer(body=status_body(0)))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url, 'timeout': 0.2})
    assert result['changed'] is True and 'failed' not in result
    assert len(fake_server.sent('POST', '/cache/clear')) == 1
    assert any('a fresh read shows it was carried out' in w for w in result['warnings'])


def test_server_error_on_clear_fails_with_its_text(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    fake_server.on('POST', '/cache/clear', Answer(400, {'detail': "tier 'l2' not supported; only 'l1'"}))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['failed'] is True
    assert result['msg'] == ("POST %s/cache/clear failed: HTTP 400 Bad Request: tier 'l2' not supported; only 'l1'"
                             % fake_server.url)
    assert (result['status'], result['api_generation'], result['url']) == (400, 'G3', fake_server.url)
    assert 'exception' not in result


@pytest.mark.parametrize('args, message', [
    ({'url': '127.0.0.1:8080'}, "url must be an http:// or https:// URL with a host, got '127.0.0.1:8080'"),
    ({'url': 'http://'}, "url must be an http:// or https:// URL with a host, got 'http://'"),
    ({'url': 'ftp://host'}, "url must be an http:// or https:// URL with a host, got 'ftp://host'"),
    ({'url': 'http://h:99999'}, "url is not a valid URL (Port out of range 0-65535)"),
    ({'url': 'http://[::1'}, "url is not a valid URL (Invalid IPv6 URL)"),
    ({'url': 'http://bad host'}, "url must not contain spaces or control characters"),
    ({'timeout': 0}, 'timeout must be greater than 0 and at most 3600 seconds, got 0.0'),
    ({'timeout': 'nan'}, 'timeout must be a finite number of seconds, got nan'),
    ({'retries': -1}, 'retries must be from 0 to 10, got -1'),
    ({'retries': 1000}, 'retries must be from 0 to 10, got 1000'),
    ({'deadline': 'inf'}, 'deadline must be a finite number of seconds, got inf'),
    ({'ca_path': '/nonexistent/ca.pem'}, 'ca_path /nonexistent/ca.pem does not exist or is not a file'),
    ({'client_key': '/tmp/key.pem'}, 'missing parameter(s) required by \'client_key\': client_cert'),
    ({'tier': 'l2'}, 'an instance-wide clear supports only tier=l1'),
    ({'max_remaining': -1}, 'max_remaining must be 0 or more, got -1'),
    ({'max_remaining': 0, 'request_id': 'req-1'}, 'max_remaining applies to an instance-wide clear'),
    ({'api_key': 'two words'}, 'api_key contains characters an HTTP header cannot carry'),
])
def test_bad_input_fails_before_any_request(fake_server, run_module, args, message):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, dict({'url': fake_server.url}, **args))
    assert result['failed'] is True
    assert message in result['msg']
    assert fake_server.requests == []


def test_url_and_api_key_come_from_the_environment(fake_server, run_module, monkeypatch):
    fake_server.lmcache('G3', objects=0)
    monkeypatch.setenv('LMCACHE_URL', fake_server.url)
    monkeypatch.setenv('LMCACHE_API_KEY', 'env-key')
    result = run_module(lmcache_kvcache_clear, {})
    assert result['url'] == fake_server.url
    assert all(r['headers']['Authorization'] == 'Bearer env-key' for r in fake_server.requests)
    assert 'env-key' not in str(result)


def test_a_password_in_the_url_is_refused_and_masked_everywhere(fake_server, run_module):
    url = fake_server.url.replace('http://', 'http://admin:hunter2@')
    result = run_module(lmcache_kvcache_clear, {'url': url, 'api_key': 'k'})
    assert result['failed'] is True and 'url must not carry credentials' in result['msg']
    assert 'hunter2' not in json.dumps(result)
    assert fake_server.requests == []


def test_a_key_read_with_its_newline_is_sent_without_it_and_never_shown(fake_server, run_module):
    fake_server.lmcache('G3', objects=0)
    fake_server.on('GET', '/status', Answer(500, {'detail': 'boom'}))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url, 'api_key': 's3cr3t-key\n'})
    assert all(r['headers']['Authorization'] == 'Bearer s3cr3t-key' for r in fake_server.requests)
    assert 's3cr3t' not in json.dumps(result)


# -- targeted clears, on the simulated fleet (the state is checked on it afterwards) --------------------------------------

TOKENS = [0] + [9906] * 1024


def targeted(sim, **args):
    return dict(dict(url=sim.url('node-0000'), coordinator_url=sim.coordinator_url, token_ids=TOKENS,
                     model_name='test-model'), **args)


def tiers_on(sim, node, index):
    from ansible_collections.lmcache.kvcache.tests.sim.server import key_id, key_of
    ident = key_id(key_of(TOKENS, index, 'test-model', '', 0))
    return sorted(tier for tier in ('L1', 'L2') if ident in sim.by_name[node].tiers[tier])


def test_a_targeted_clear_deletes_the_range_on_the_node_itself(sim, run_module):
    sim.store('node-0000', TOKENS)
    sim.store('node-0001', TOKENS)
    result = run_module(lmcache_kvcache_clear, targeted(sim, start=256, tier='all'))
    assert result['changed'] is True and result['chunks_changed'] == [1, 2, 3] and result['delete_via'] == 'node'
    assert [tiers_on(sim, 'node-0000', i) for i in range(4)] == [['L1', 'L2'], [], [], []]
    assert tiers_on(sim, 'node-0001', 1) == ['L1', 'L2']
    again = run_module(lmcache_kvcache_clear, targeted(sim, start=256, tier='all'))
    assert again['changed'] is False


def test_through_the_coordinator_a_range_after_cached_chunks_is_refused(sim, run_module):
    sim.store('node-0000', TOKENS)
    result = run_module(lmcache_kvcache_clear, targeted(sim, start=256, delete_via='coordinator'))
    assert result['failed'] is True and 'would also delete chunks 0' in result['msg']
    assert tiers_on(sim, 'node-0000', 1) == ['L1', 'L2']


def test_a_targeted_clear_in_check_mode_deletes_nothing(sim, run_module):
    sim.store('node-0000', TOKENS)
    result = run_module(lmcache_kvcache_clear, targeted(sim, tier='l1'), check_mode=True, diff=True)
    assert result['changed'] is True and result['msg'].startswith('Would delete 4 chunks')
    assert result['diff']['after']['0:256'] == {'locations': ['L2']}
    assert all(tiers_on(sim, 'node-0000', i) == ['L1', 'L2'] for i in range(4))


def test_pinned_chunks_keep_their_l2_copy_unless_forced(sim, run_module):
    sim.store('node-0000', TOKENS)
    sim.coordinator.pin({'token_ids': TOKENS, 'model_name': 'test-model', 'world_size': 1}, 1)
    kept = run_module(lmcache_kvcache_clear, targeted(sim, tier='l2'))
    assert kept['changed'] is False and tiers_on(sim, 'node-0000', 0) == ['L1', 'L2']
    forced = run_module(lmcache_kvcache_clear, targeted(sim, tier='l2', force=True))
    assert forced['changed'] is True and tiers_on(sim, 'node-0000', 0) == ['L1']


def test_a_keyed_node_is_cleared_on_the_node_with_the_key(sim, run_module):
    node = sim.add_node('keyed', api_key='k-123')
    sim.store(node, TOKENS)
    via_coordinator = run_module(lmcache_kvcache_clear, dict(targeted(sim, delete_via='coordinator', tier='l1'),
                                                             url=sim.url(node), api_key='k-123'))
    assert via_coordinator['failed'] is True and '502' in via_coordinator['msg'] and 'cannot send' in via_coordinator['msg']
    assert len([r for r in node.requests if r == ('DELETE', '/cache/objects')]) == 0
    direct = run_module(lmcache_kvcache_clear, dict(targeted(sim, tier='l1'), url=sim.url(node), api_key='k-123'))
    assert direct['changed'] is True and direct['delete_via'] == 'node'
    assert all(tiers_on(sim, 'keyed', i) == ['L2'] for i in range(4))


def test_a_targeted_clear_needs_the_coordinator(sim, run_module):
    result = run_module(lmcache_kvcache_clear, dict(targeted(sim), coordinator_url=None))
    assert result['failed'] is True and 'token_ids needs coordinator_url' in result['msg']
