# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-request modules by token sequence against a genuine LMCache 0.5.6 coordinator with two nodes (fs L2).

Both nodes hold sequence 0 (4 chunks); node-a also holds sequence 1. Every claim is checked on the coordinator
(/cache/pins, /directory/lookup) and the nodes (/status), independently of the collection.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import BENCH_MODEL, Fleet, bench_token_ids, http_json

TOKENS = 1024  # 4 whole chunks per sequence (the 1025th token is a partial chunk, never cached)
SEQ0, SEQ1 = bench_token_ids(0, TOKENS), bench_token_ids(1, TOKENS)


@pytest.fixture(scope='module')
def fleet(tmp_path_factory):
    servers = Fleet(str(tmp_path_factory.mktemp('coordinated')))
    servers.add_coordinator()
    servers.add('node-a', '0.5.6')
    servers.add('node-b', '0.5.6')
    with servers:
        servers.nodes['node-a'].fill(2, num_tokens=TOKENS)
        servers.nodes['node-b'].fill(1, num_tokens=TOKENS)
        wait_for(lambda: placements(servers, SEQ0) == [{('node-a', 'l1'), ('node-a', 'l2'), ('node-b', 'l1'), ('node-b', 'l2')}] * 4)
        wait_for(lambda: placements(servers, SEQ1) == [{('node-a', 'l1'), ('node-a', 'l2')}] * 4)
        yield servers


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'condition not met within %ss' % timeout
        time.sleep(0.5)


def body(tokens):
    return {'token_ids': tokens, 'model_name': BENCH_MODEL, 'world_size': 1, 'cache_salt': ''}


def placements(fleet, tokens):
    """Per chunk, the (instance, tier) pairs the coordinator's directory knows."""
    status, reply = http_json('POST', fleet.coordinator.url + '/directory/lookup', body(tokens))
    assert status == 200, reply
    return [{(p['instance_id'], p['tier']) for p in result['placements']} for result in reply['results']]


def pin_counts(fleet, tokens):
    """Per chunk of `tokens`, its pin count on the coordinator."""
    _status, reply = http_json('POST', fleet.coordinator.url + '/directory/lookup', body(tokens))
    hashes = [r['key']['chunk_hash_hex'] for r in reply['results']]
    _status, pins = http_json('GET', fleet.coordinator.url + '/cache/pins?model_name=%s&limit=1000' % BENCH_MODEL)
    counts = {p['key']['chunk_hash_hex']: p['pin_count'] for p in pins['pins']}
    return [counts.get(h, 0) for h in hashes]


def l1_usage(fleet, instance):
    """The instance's L1 usage ratio, as the coordinator reports it."""
    _status, usage = http_json('GET', fleet.coordinator.url + '/instances/usage')
    modules = [i['modules'] for i in usage['instances'] if i['instance_id'] == instance][0]
    return [m['usage_ratio'] for m in modules if m['tier'] == 'l1'][0]


@pytest.fixture
def unpinned(fleet):
    """Every pin of the test model removed, before and after the test."""
    def clear_pins():
        for tokens in (SEQ0, SEQ1):
            while any(pin_counts(fleet, tokens)):
                http_json('DELETE', fleet.coordinator.url + '/cache/pins', body(tokens))
    clear_pins()
    yield
    clear_pins()


def target(fleet, tokens=None, **extra):
    return dict({'coordinator_url': fleet.coordinator.url, 'model_name': BENCH_MODEL,
                 'token_ids': SEQ0 if tokens is None else tokens,
                 'url': fleet.nodes['node-a'].url}, **extra)


def test_info_shows_every_chunk_where_the_coordinator_has_it(fleet, ansible, unpinned):
    run = ansible.adhoc('lmcache_kvcache_info', target(fleet))
    assert run.returncode == 0, run.output
    result = run.result()
    assert (result['total_chunks'], result['cached_chunks'], result['cached_tokens'], result['pinned_chunks']) == (4, 4, 1024, 0)
    for index, chunk in enumerate(result['chunks']):
        assert (chunk['index'], chunk['start'], chunk['end']) == (index, index * 256, (index + 1) * 256)
        assert chunk['locations'] == ['L1', 'L2'] and chunk['pinned'] is False and chunk['pin_count'] == 0
        assert {(p['instance_id'], p['tier'].lower()) for p in chunk['placements']} == placements(fleet, SEQ0)[index]


def test_info_of_a_range_and_of_an_uncached_request(fleet, ansible, unpinned):
    ranged = ansible.adhoc('lmcache_kvcache_info', target(fleet, start=300, end=700)).result()
    assert [c['index'] for c in ranged['chunks']] == [1, 2]
    uncached = ansible.adhoc('lmcache_kvcache_info', target(fleet, tokens=[7] * 600))
    assert uncached.returncode == 0, uncached.output
    assert (uncached.result()['total_chunks'], uncached.result()['cached_chunks']) == (2, 0)


def test_pin_is_idempotent_although_the_coordinator_counts_pins(fleet, ansible, unpinned):
    first = ansible.adhoc('lmcache_kvcache_pin', target(fleet))
    assert first.returncode == 0, first.output
    assert first.result()['changed'] is True and first.result()['chunks_changed'] == [0, 1, 2, 3]
    assert pin_counts(fleet, SEQ0) == [1, 1, 1, 1]

    again = ansible.adhoc('lmcache_kvcache_pin', target(fleet))
    assert again.result()['changed'] is False and again.result()['pinned_chunks'] == 4
    assert pin_counts(fleet, SEQ0) == [1, 1, 1, 1]

    info = ansible.adhoc('lmcache_kvcache_info', target(fleet)).result()
    assert info['pinned_chunks'] == 4 and all(c['pinned'] and c['pin_count'] == 1 for c in info['chunks'])

    unpin = ansible.adhoc('lmcache_kvcache_pin', target(fleet, state='absent'))
    assert unpin.result()['changed'] is True
    assert pin_counts(fleet, SEQ0) == [0, 0, 0, 0]
    assert ansible.adhoc('lmcache_kvcache_pin', target(fleet, state='absent')).result()['changed'] is False


def test_range_pin_leaves_the_chunks_outside_the_range_as_they_were(fleet, ansible, unpinned):
    # Someone else already pinned chunk 0 twice: the range pin must not touch it.
    http_json('POST', fleet.coordinator.url + '/cache/pins', body(SEQ0[:256]))
    http_json('POST', fleet.coordinator.url + '/cache/pins', body(SEQ0[:256]))
    assert pin_counts(fleet, SEQ0) == [2, 0, 0, 0]

    run = ansible.adhoc('lmcache_kvcache_pin', target(fleet, start=512, end=1024), '--diff')
    assert run.returncode == 0, run.output
    assert run.result()['chunks_changed'] == [2, 3]
    assert pin_counts(fleet, SEQ0) == [2, 0, 1, 1]
    assert '"pin_count": 1' in run.output

    assert ansible.adhoc('lmcache_kvcache_pin', target(fleet, start=512, end=1024)).result()['changed'] is False
    assert pin_counts(fleet, SEQ0) == [2, 0, 1, 1]

    ansible.adhoc('lmcache_kvcache_pin', target(fleet, start=512, end=1024, state='absent'))
    assert pin_counts(fleet, SEQ0) == [2, 0, 0, 0]


def test_check_mode_pins_nothing(fleet, ansible, unpinned):
    run = ansible.adhoc('lmcache_kvcache_pin', target(fleet), '--check')
    assert run.result()['changed'] is True and run.result()['pinned_chunks'] == 4
    assert pin_counts(fleet, SEQ0) == [0, 0, 0, 0]


def test_uncached_chunks_are_not_pinned_unless_asked(fleet, ansible, unpinned):
    tokens = [8] * 512
    run = ansible.adhoc('lmcache_kvcache_pin', target(fleet, tokens=tokens))
    assert run.result()['changed'] is False and run.result()['uncached_chunks'] == [0, 1]
    assert 'Not cached, so not pinned: chunks 0, 1' in run.result()['msg']
    assert pin_counts(fleet, tokens) == [0, 0]
    forced = ansible.adhoc('lmcache_kvcache_pin', target(fleet, tokens=tokens, include_uncached=True))
    assert forced.result()['changed'] is True and pin_counts(fleet, tokens) == [1, 1]
    ansible.adhoc('lmcache_kvcache_pin', target(fleet, tokens=tokens, state='absent'))
    assert pin_counts(fleet, tokens) == [0, 0]


def test_pin_is_rejected_under_memory_pressure(fleet, ansible, unpinned):
    usage = l1_usage(fleet, 'node-a')  # node-a holds chunks of 4 MiB in about 100 MiB of L1
    threshold = round(usage / 2, 2)
    rejected = ansible.adhoc('lmcache_kvcache_pin', target(fleet, max_usage=threshold))
    assert rejected.returncode != 0 and rejected.outcome() == 'failed'
    result = rejected.result()
    assert result['rejected'] is True and result['changed'] is False
    assert result['reason'] == 'L1 memory pressure (%d%%) on node-a, at or above max_usage (%d%%)' % (
        round(usage * 100), round(threshold * 100))
    assert pin_counts(fleet, SEQ0) == [0, 0, 0, 0]

    tolerated = ansible.adhoc('lmcache_kvcache_pin', target(fleet, max_usage=threshold, fail_on_rejected=False))
    assert tolerated.returncode == 0 and tolerated.result()['rejected'] is True
    assert pin_counts(fleet, SEQ0) == [0, 0, 0, 0]


def test_compress_by_token_sequence_names_what_is_missing(fleet, ansible):
    run = ansible.adhoc('lmcache_kvcache_compress', target(fleet, method='zstd'))
    assert run.outcome() == 'failed'
    assert run.result()['msg'].startswith('%s (LMCache 0.5.6-g3e11e108, API G3) cannot compress a request addressed by '
                                          'token sequence' % fleet.nodes['node-a'].url)


def test_targeted_clear_removes_only_that_request_from_only_that_host(fleet, ansible, unpinned):
    node_a, node_b = fleet.nodes['node-a'], fleet.nodes['node-b']
    objects_a, objects_b = node_a.l1_objects(), node_b.l1_objects()

    check = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tier='l1'), '--check')
    assert check.result()['changed'] is True and check.result()['chunks_changed'] == [0, 1, 2, 3]
    assert node_a.l1_objects() == objects_a

    run = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tier='l1'))
    assert run.returncode == 0, run.output
    result = run.result()
    assert (result['changed'], result['instance'], result['chunks_changed']) == (True, 'node-a', [0, 1, 2, 3])
    assert node_a.l1_objects() == objects_a - 4 and node_b.l1_objects() == objects_b
    wait_for(lambda: placements(fleet, SEQ0) == [{('node-a', 'l2'), ('node-b', 'l1'), ('node-b', 'l2')}] * 4)
    assert placements(fleet, SEQ1) == [{('node-a', 'l1'), ('node-a', 'l2')}] * 4

    again = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tier='l1'))
    assert again.result()['changed'] is False

    l2 = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tier='l2', instance_id='node-a'))
    assert l2.result()['changed'] is True
    wait_for(lambda: placements(fleet, SEQ0) == [{('node-b', 'l1'), ('node-b', 'l2')}] * 4)
    assert placements(fleet, SEQ1) == [{('node-a', 'l1'), ('node-a', 'l2')}] * 4


def test_targeted_clear_spares_pinned_l2_unless_forced(fleet, ansible, unpinned):
    ansible.adhoc('lmcache_kvcache_pin', target(fleet, tokens=SEQ1))
    run = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tokens=SEQ1, tier='l2'))
    assert run.result()['changed'] is False
    assert 'Pinned, so kept: chunks 0, 1, 2, 3 (force=true deletes them too).' in run.result()['msg']
    assert placements(fleet, SEQ1) == [{('node-a', 'l1'), ('node-a', 'l2')}] * 4


def test_a_range_clear_through_the_coordinator_never_deletes_chunks_before_start(fleet, ansible, unpinned):
    before = placements(fleet, SEQ1)
    run = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tokens=SEQ1, tier='l1', start=512, delete_via='coordinator'))
    assert run.outcome() == 'failed'
    assert 'would also delete chunks 0, 1, which are before start' in run.result()['msg']
    assert placements(fleet, SEQ1) == before


@pytest.mark.parametrize('args, message', [
    ({'request_id': 'req-1'}, 'parameters are mutually exclusive: request_id|token_ids'),
    ({'token_ids': None}, 'one of the following is required: request_id, token_ids'),
    ({'start': 512, 'end': 512}, 'start must be less than end, got start=512 end=512'),
    ({'start': -1}, 'start must be 0 or more, got -1'),
    ({'end': 5000}, 'end=5000 is past the end of token_ids (1025 tokens)'),
    ({'token_ids': [1, 'x']}, 'token_ids'),
    ({'token_ids': [1, -2]}, 'token_ids must be vocabulary indices from 0 to 2147483647; got -2'),
    ({'token_ids': [1, 2 ** 40]}, 'token_ids must be vocabulary indices from 0 to 2147483647; got 1099511627776'),
    ({'model_name': None}, "missing parameter(s) required by 'token_ids': model_name"),
    ({'world_size': 0}, 'world_size must be from 1 to 4096, got 0'),
    ({'cache_salt': 'a/b'}, "cache_salt must not contain '/'"),
    ({'coordinator_url': 'coordinator:9300'}, 'coordinator_url must be an http:// or https:// URL with a host'),
    ({'max_usage': 1.5}, 'max_usage must be greater than 0 and at most 1, got 1.5'),
])
def test_bad_input_fails_before_any_request(fleet, ansible, unpinned, args, message):
    arguments = {k: v for k, v in dict(target(fleet), **args).items() if v is not None}
    run = ansible.adhoc('lmcache_kvcache_pin', arguments)
    assert run.outcome() == 'failed'
    assert message in run.result()['msg']
    assert pin_counts(fleet, SEQ0) == [0, 0, 0, 0]


def test_more_than_a_million_tokens_are_refused(fleet, ansible, unpinned, tmp_path):
    # From a token file: as a list argument, ansible-core alone spends 90 s on 1,000,001 tokens before the module
    # runs (the same check on a list is a unit test).
    huge = tmp_path / 'huge.txt'
    huge.write_text(' '.join(['1'] * 1000001))
    arguments = dict(target(fleet), token_ids_file=str(huge))
    del arguments['token_ids']
    run = ansible.adhoc('lmcache_kvcache_pin', arguments)
    assert run.outcome() == 'failed'
    assert 'token_ids_file %s has 1000001 tokens; LMCache addresses at most 1000000' % huge in run.result()['msg']
    assert pin_counts(fleet, SEQ0) == [0, 0, 0, 0]


@pytest.mark.parametrize('request_id', ['', 'has space', 'x' * 300, 'tab\there'])
def test_absurd_request_ids_are_refused(fleet, ansible, request_id):
    run = ansible.adhoc('lmcache_kvcache_info', {'url': fleet.nodes['node-a'].url, 'request_id': request_id})
    assert run.outcome() == 'failed'
    assert 'request_id must be 1 to 256 printable characters without spaces' in run.result()['msg']


def test_unknown_instance_id_is_named_with_the_registered_ones(fleet, ansible, unpinned):
    before = placements(fleet, SEQ1)
    run = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tokens=SEQ1, instance_id='node-z'))
    assert run.outcome() == 'failed'
    assert run.result()['msg'] == ("instance_id 'node-z' is not registered with the coordinator %s; registered: node-a, node-b"
                                   % fleet.coordinator.url)
    assert placements(fleet, SEQ1) == before


def test_pin_hot_requests_playbook_pins_once_fleet_wide(fleet, ansible, unpinned, tmp_path):
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'pin_hot_requests.yml')
    hosts = {name: {'lmcache_url': node.url} for name, node in fleet.nodes.items()}
    variables = tmp_path / 'hot.json'
    variables.write_text(json.dumps({
        'lmcache_hosts': 'all', 'lmcache_coordinator_url': fleet.coordinator.url,
        'lmcache_hot_requests': [{'name': 'bench sequence 1', 'model_name': BENCH_MODEL, 'token_ids': SEQ1}]}))
    run = ansible.playbook_file(playbook, hosts, '-e', '@%s' % variables)
    assert run.returncode == 0, run.output
    # Two hosts, one fleet-wide pin: the coordinator counts one pin per chunk, not two.
    assert pin_counts(fleet, SEQ1) == [1, 1, 1, 1]
    again = ansible.playbook_file(playbook, hosts, '-e', '@%s' % variables)
    assert again.returncode == 0 and 'changed=0' in again.output and 'changed=1' not in again.output
    assert pin_counts(fleet, SEQ1) == [1, 1, 1, 1]


PIN_ROLE_PLAY = '''
- name: Pin through the kvcache_pin role
  hosts: all
  gather_facts: false
  roles:
    - role: lmcache.kvcache.kvcache_pin
      vars:
        kvcache_pin_scope: fleet
        kvcache_pin_max_usage: {max_usage}
        kvcache_pin_rejected_policy: {policy}
        kvcache_pin_coordinator_url: {coordinator}
        kvcache_pin_requests:
          - name: bench sequence 1
            model_name: {model}
            token_ids: {tokens}
'''


@pytest.mark.parametrize('policy', ['fail', 'warn'])
def test_pin_role_rejection_policy(fleet, ansible, unpinned, policy):
    # Half of node-a's L1 usage: whatever earlier tests left there, the pin is rejected.
    play = PIN_ROLE_PLAY.format(policy=policy, coordinator=fleet.coordinator.url, model=BENCH_MODEL, tokens=json.dumps(SEQ1),
                                max_usage=round(l1_usage(fleet, 'node-a') / 2, 2))
    run = ansible.playbook(play, {'node-a': {'lmcache_url': fleet.nodes['node-a'].url}})
    task = 'Pin through the coordinator, once for the whole fleet'
    if policy == 'fail':
        assert run.returncode != 0 and run.outcome(task) == 'failed'
        assert 'REJECTED: L1 memory pressure (' in run.result(task)['results'][0]['msg']
    else:
        assert run.returncode == 0, run.output
        assert run.result(task)['results'][0]['rejected'] is True
        assert '[WARNING]: Pin of the 1025-token sequence of model test-model' in run.output and 'REJECTED' in run.output
    assert pin_counts(fleet, SEQ1) == [0, 0, 0, 0]


def registered(fleet):
    return sorted(i['instance_id'] for i in http_json('GET', fleet.coordinator.url + '/instances')[1]['instances'])


def test_a_stranger_is_taken_off_the_genuine_coordinator_and_the_fleets_node_is_kept(fleet, ansible):
    # Anyone can register: the coordinator takes it without a key.
    status, _answer = http_json('POST', fleet.coordinator.url + '/instances',
                                {'instance_id': 'stranger', 'ip': '127.0.2.9', 'http_port': 8080})
    assert status == 200 and registered(fleet) == ['node-a', 'node-b', 'stranger']
    args = {'url': fleet.coordinator.url, 'instance_id': 'stranger', 'networks': ['127.0.0.1/32']}
    check = ansible.adhoc('lmcache_coordinator_instance', args, '--check', '--diff')
    assert check.result()['changed'] is True and registered(fleet) == ['node-a', 'node-b', 'stranger']
    done = ansible.adhoc('lmcache_coordinator_instance', args, '--diff')
    assert done.returncode == 0, done.output
    assert done.result()['changed'] is True and done.result()['addresses'] == ['127.0.2.9:8080']
    assert registered(fleet) == ['node-a', 'node-b']
    again = ansible.adhoc('lmcache_coordinator_instance', args)
    assert again.result()['changed'] is False and 'is not registered' in again.result()['msg']
    kept = ansible.adhoc('lmcache_coordinator_instance', dict(args, instance_id='node-a'))
    assert kept.result()['changed'] is False and kept.result()['kept_vouched'] is True
    assert registered(fleet) == ['node-a', 'node-b']


# Last: it changes SEQ1, which the tests above expect whole.
def test_a_range_clear_on_the_node_deletes_exactly_the_range(fleet, ansible, unpinned):
    run = ansible.adhoc('lmcache_kvcache_clear', target(fleet, tokens=SEQ1, tier='l1', start=512))
    assert run.outcome() == 'ok', run.output
    assert run.result()['delete_via'] == 'node' and run.result()['chunks_changed'] == [2, 3]
    wait_for(lambda: placements(fleet, SEQ1) == [{('node-a', 'l1'), ('node-a', 'l2')}] * 2 + [{('node-a', 'l2')}] * 2)
