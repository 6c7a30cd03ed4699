# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache_fanout through ansible-playbook; every claim is checked on the simulated nodes afterwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.lmcache.kvcache.tests.sim.server import key_id, key_of

# One fan-out task, in a play on localhost or (its hosts then the play's) over the group.
FANOUT = '''
- hosts: {hosts}
  gather_facts: false
  tasks:
    - name: Fan out
      lmcache.kvcache.lmcache_fanout: {args}
      run_once: {run_once}
      register: fanout
'''
TOKENS = [4] + [9906] * 512


def fanout(**args):
    """The play of one fan-out task on localhost with these options (None: the option left out)."""
    import json
    return FANOUT.format(hosts='localhost', args=json.dumps(dict((key, value) for key, value in args.items() if value is not None)),
                         run_once='false')


def group_fanout(run_once: bool = True, **args):
    """The play of one fan-out task over the group lmcache."""
    import json
    return FANOUT.format(hosts='lmcache', args=json.dumps(args), run_once=json.dumps(run_once))


def objects(sim):
    return dict((name, node.objects) for name, node in sim.by_name.items())


def test_clear_every_endpoint_canary_first_with_per_host_results(sim, ansible):
    run = ansible.run(fanout(operation='clear', hosts='lmcache', batches=[1, 5]), ansible.hosts())
    assert run.returncode == 0, run.output
    result = run.result('Fan out')
    assert result['changed'] is True and set(objects(sim).values()) == {0}
    assert sorted(result['results']) == sorted(sim.by_name)
    first = result['results']['node-0000']
    assert (first['changed'], first['objects_cleared'], first['api_generation'], first['version'], first['status']) == (
        True, 4, 'G3', '0.5.6-g3e11e108', 200)
    assert result['summary']['batches'] == [1, 5, 5, 5, 4] and result['summary']['changed'] == 20
    assert 'clear on 20 endpoints' in result['msg']
    again = ansible.run(fanout(operation='clear', hosts='lmcache'), ansible.hosts())
    assert again.result('Fan out')['changed'] is False and again.result('Fan out')['summary']['unchanged'] == 20


def test_check_mode_and_diff_change_nothing(sim, ansible):
    run = ansible.run(fanout(operation='clear', hosts='lmcache'), ansible.hosts(), '--check', '--diff')
    assert run.returncode == 0, run.output
    assert run.result('Fan out')['changed'] is True and set(objects(sim).values()) == {4}
    assert run.result('Fan out')['results']['node-0003']['msg'].startswith('Would clear 4 objects')
    assert '--- before: node-0003' in run.output or 'node-0003' in run.output
    assert len(run.result('Fan out')['diff']) == 20


def test_an_unreachable_endpoint_among_many_is_its_own_result(sim, ansible):
    hosts = ansible.hosts(**{'node-0007': {'lmcache_url': 'http://127.0.0.1:9'}})
    run = ansible.run(fanout(operation='clear', hosts='lmcache', max_fail_percentage=50, retries=0), hosts)
    assert run.returncode == 0, run.output
    result = run.result('Fan out')
    assert result['failed_hosts'] == ['node-0007'] and result['summary']['failed'] == 1
    assert 'cannot connect to http://127.0.0.1:9 (Connection refused)' in result['results']['node-0007']['msg']
    assert sim.by_name['node-0007'].objects == 4 and all(v == 0 for k, v in objects(sim).items() if k != 'node-0007')


def test_a_host_without_a_url_and_a_duplicate_url_are_named_and_the_others_run(sim, ansible):
    hosts = ansible.hosts()
    del hosts['node-0002']['lmcache_url']
    hosts['node-0009']['lmcache_url'] = sim.url('node-0008')
    run = ansible.run(fanout(operation='clear', hosts='lmcache', max_fail_percentage=100), hosts)
    result = run.result('Fan out')
    assert result['results']['node-0002']['failed'] is True
    assert 'host node-0002 has no lmcache_url' in result['results']['node-0002']['msg']
    assert result['results']['node-0009']['skipped'] is True and 'same URL as node-0008' in result['results']['node-0009']['msg']
    assert sim.by_name['node-0002'].objects == 4 and sim.by_name['node-0009'].objects == 4
    assert sim.by_name['node-0008'].objects == 0 and sim.by_name['node-0008'].clears == 1


@pytest.mark.parametrize('args, problem', [
    (dict(concurrency=0), 'concurrency must be from 1 to 1024, got 0'),
    (dict(concurrency=10000), 'concurrency must be from 1 to 1024, got 10000'),
    (dict(hosts='nobody'), "hosts: 'nobody' is neither a group nor a host of the inventory"),
    (dict(hosts=[]), 'has no endpoint to run on'),
    (dict(batches=['0%']), 'a batch percentage must be more than 0% and at most 100%'),
    (dict(args={'force': 'maybe'}), 'force'),
    (dict(args={'url': 'http://x'}), 'args.url is not used by the fan-out'),
    (dict(operation='pin', args={'token_ids': [1] * 256, 'model_name': 'm', 'coordinator_url': 'http://127.0.0.1:1'}),
     'pin by token sequence goes through the coordinator and covers the whole fleet'),
    (dict(timeout='nan'), 'timeout must be a finite number of seconds, got nan'),
    # A typo in the hosts to leave out would clear the host it meant: refused, like a typo in hosts.
    (dict(exclude_hosts=['node-0003', 'node-003']), "exclude_hosts names what is not a host of the inventory: 'node-003'"),
    (dict(hosts=None, endpoints=['http://127.0.0.1:9'], exclude_hosts=['node-0003']),
     'parameters are mutually exclusive: exclude_hosts|endpoints'),
])
def test_bad_fanout_options_fail_before_any_request(sim, ansible, args, problem):
    run = ansible.run(fanout(**dict(dict(operation='clear', hosts='lmcache'), **args)), ansible.hosts())
    assert run.returncode != 0 and run.outcome('Fan out') == 'failed'
    assert problem in run.result('Fan out')['msg']
    assert all(node.requests == [] for node in sim.by_name.values())


def test_the_hosts_left_out_are_not_touched_and_the_others_are_cleared(sim, ansible):
    left_out = ['node-0003', 'node-0017']
    run = ansible.run(fanout(operation='clear', hosts='lmcache', exclude_hosts=left_out), ansible.hosts())
    assert run.returncode == 0, run.output
    result = run.result('Fan out')
    assert sorted(result['results']) == sorted(set(sim.by_name) - set(left_out))
    assert (result['summary']['endpoints'], result['summary']['changed'], result['summary']['excluded']) == (18, 18, 2)
    assert '2 hosts left out (exclude_hosts)' in result['msg']
    assert [name for name, count in sorted(objects(sim).items()) if count] == left_out
    assert all(sim.by_name[name].requests == [] for name in left_out)


def test_a_play_whose_every_host_is_left_out_clears_nothing_and_succeeds(sim, ansible):
    play = group_fanout(operation='clear', exclude_hosts='{{ ansible_play_hosts_all }}')
    run = ansible.run(play, ansible.hosts(['node-0000', 'node-0001']))
    assert run.returncode == 0, run.output
    result = run.result('Fan out')
    assert (result['changed'], result['results'], result['summary']['endpoints'], result['summary']['excluded']) == (
        False, {}, 0, 2)
    assert all(node.requests == [] for node in sim.by_name.values())


def test_a_batch_larger_than_the_fleet_runs_the_fleet(sim, ansible):
    run = ansible.run(fanout(operation='clear', hosts='lmcache', batches=[500]), ansible.hosts())
    assert run.result('Fan out')['summary']['batches'] == [20] and set(objects(sim).values()) == {0}


def test_a_failed_canary_stops_the_rest(sim, ansible):
    sim.fault('status', node='node-0000', method='POST', path='/cache/clear', status=500, body={'detail': 'broken disk'})
    run = ansible.run(fanout(operation='clear', hosts='lmcache'), ansible.hosts())
    assert run.returncode != 0
    result = run.result('Fan out')
    assert result['summary']['stopped'].startswith('batch 1 of 2: 1 of 1 endpoints failed')
    assert result['summary']['not_run'] == 19 and 'broken disk' in result['msg']
    assert all(node.clears == 0 for node in sim.by_name.values())


def test_it_refuses_to_run_once_per_host(sim, ansible):
    run = ansible.run(group_fanout(run_once=False, operation='server_info'), ansible.hosts(['node-0000', 'node-0001']))
    assert run.returncode != 0 and 'run it once (run_once: true' in run.output
    assert all(node.requests == [] for node in sim.by_name.values())


def test_from_a_play_over_the_group_with_run_once(sim, ansible):
    play = '''
- hosts: lmcache
  gather_facts: false
  tasks:
    - name: Fan out
      lmcache.kvcache.lmcache_fanout:
        operation: server_info
      run_once: true
'''
    run = ansible.run(play, ansible.hosts())
    assert run.returncode == 0, run.output
    results = run.record('Fan out')['result']['results']
    assert len(results) == 20 and all(r['healthy'] for r in results.values())


def test_per_request_operations_fan_out(sim, ansible):
    for name in ('node-0000', 'node-0001'):
        sim.store(name, TOKENS)
    target = dict(coordinator_url=sim.coordinator_url, token_ids=TOKENS, model_name='test-model', tier='l1')
    run = ansible.run(fanout(operation='clear', hosts=['node-0000', 'node-0001', 'node-0002'], args=target), ansible.hosts())
    assert run.returncode == 0, run.output
    results = run.result('Fan out')['results']
    assert [results[n]['changed'] for n in ('node-0000', 'node-0001', 'node-0002')] == [True, True, False]
    for name in ('node-0000', 'node-0001'):
        assert key_id(key_of(TOKENS, 0, 'test-model', '', 0)) not in sim.by_name[name].tiers['L1']
    quota = ansible.run(fanout(operation='quota', hosts='lmcache', args={'cache_salt': 'tenant-a', 'limit_gb': 0.5}), ansible.hosts())
    assert quota.result('Fan out')['summary']['changed'] == 20
    assert all(node.quotas == {'tenant-a': 0.5} for node in sim.by_name.values())
    warm = ansible.run(fanout(operation='prefetch', hosts=['node-0000', 'node-0001'],
                              args=dict(coordinator_url=sim.coordinator_url, token_ids=TOKENS, model_name='test-model')),
                       ansible.hosts())
    assert [warm.result('Fan out')['results'][n]['chunks_warmed'] for n in ('node-0000', 'node-0001')] == [[0, 1], [0, 1]]


def test_a_keyed_fleet_key_from_the_environment_never_shown(sim, ansible):
    keyed = [sim.add_node('keyed-%d' % n, api_key='s3cr3t-fleet-key') for n in range(3)]
    hosts = dict((node.name, {'lmcache_url': sim.url(node)}) for node in keyed)
    run = ansible.run(fanout(operation='clear', hosts='lmcache'), hosts, env={'LMCACHE_API_KEY': 's3cr3t-fleet-key\n'})
    assert run.returncode == 0, run.output
    assert all(node.objects == 0 for node in keyed)
    assert 's3cr3t' not in run.output and 's3cr3t' not in str(run.records)
    missing = ansible.run(fanout(operation='clear', hosts='lmcache', max_fail_percentage=100), hosts)
    assert 'set api_key or LMCACHE_API_KEY' in missing.result('Fan out')['results']['keyed-0']['msg']


def test_each_host_gets_its_own_key_from_the_inventory_vaulted_or_not(sim, ansible, tmp_path):
    a, b, c = (sim.add_node('key-a', objects=4, api_key='key-of-a-only'),
               sim.add_node('key-b', objects=4, api_key='key-of-b-only'), sim.add_node('no-key', objects=4))
    password = tmp_path / 'vault-password'
    password.write_text('vault-pw\n')
    env = {'ANSIBLE_VAULT_PASSWORD_FILE': str(password)}
    vaulted = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'ansible-vault'), 'encrypt_string',
                              'key-of-a-only', '--name', 'lmcache_api_key'], env=dict(os.environ, **env),
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
    (tmp_path / 'host_vars').mkdir()
    (tmp_path / 'host_vars' / 'key-a.yml').write_text(vaulted)
    hosts = ansible.hosts([], **{'key-a': {'lmcache_url': sim.url(a)},
                                 'key-b': {'lmcache_url': sim.url(b), 'lmcache_api_key': 'key-of-b-only'},
                                 'no-key': {'lmcache_url': sim.url(c)}})
    run = ansible.run(fanout(operation='clear', hosts='lmcache'), hosts, env=env)
    assert run.returncode == 0, run.output
    assert (a.objects, b.objects, c.objects) == (0, 0, 0)
    # Each key reached its own host only, and the host without one was sent none.
    assert (a.credentials_seen, b.credentials_seen, c.credentials_seen) == (
        {'Bearer key-of-a-only'}, {'Bearer key-of-b-only'}, set())
    assert 'key-of-' not in run.output and 'key-of-' not in str(run.records)


def test_a_host_key_no_header_can_carry_fails_before_any_request_unshown(sim, ansible):
    node = sim.add_node('bad-key', api_key='whatever')
    hosts = ansible.hosts(['node-0000'], **{'bad-key': {'lmcache_url': sim.url(node), 'lmcache_api_key': 'two words'}})
    run = ansible.run(fanout(operation='clear', hosts='lmcache'), hosts)
    assert run.returncode != 0
    assert "host bad-key: lmcache_api_key: api_key contains characters an HTTP header cannot carry" \
        in run.result('Fan out')['msg']
    assert 'two words' not in run.output
    assert node.requests == [] and sim.by_name['node-0000'].requests == []


def test_the_result_can_hold_the_exceptions_only_and_every_result_goes_to_a_file(sim, ansible, tmp_path):
    import json
    hosts = ansible.hosts(**{'node-0007': {'lmcache_url': 'http://127.0.0.1:9'}})
    details = tmp_path / 'details' / 'clear.json'
    run = ansible.run(fanout(operation='clear', hosts='lmcache', max_fail_percentage=50, retries=0, details='exceptions',
                             details_file=str(details)), hosts)
    assert run.returncode == 0, run.output
    result = run.result('Fan out')
    assert list(result['results']) == ['node-0007'] and result['results']['node-0007']['failed'] is True
    assert result['summary']['changed'] == 19 and result['summary']['results_left_out'] == 19
    assert 'Results of 19 endpoints that changed as asked or had nothing to do are left out' in result['msg']
    written = json.loads(details.read_text())
    assert sorted(written) == sorted(sim.by_name) and written['node-0003']['objects_cleared'] == 4
    assert result['details_file'] == str(details) and all(v == 0 for k, v in objects(sim).items() if k != 'node-0007')


READ_HANDED = """
    - name: Read the handed file while the run lasts
      ansible.builtin.set_fact:
        handed: "{{ lookup('ansible.builtin.file', fanout.details_file) | from_json }}"
"""


def test_details_tmp_hands_every_result_to_a_later_task_and_is_gone_with_the_run(sim, ansible, tmp_path):
    local = tmp_path / 'local'
    local.mkdir()
    run = ansible.run(fanout(operation='clear', hosts='lmcache', details='exceptions', details_tmp=True) + READ_HANDED,
                      ansible.hosts(), env={'ANSIBLE_LOCAL_TEMP': str(local)})
    assert run.returncode == 0, run.output
    handed = run.result('Fan out')['details_file']
    assert handed.startswith(str(local) + os.sep) and run.result('Fan out')['results'] == {}
    facts = run.result('Read the handed file while the run lasts')['ansible_facts']['handed']
    assert sorted(facts) == sorted(sim.by_name) and facts['node-0003']['objects_cleared'] == 4
    # Removed with the run's private directory.
    assert os.listdir(str(local)) == []


def test_details_tmp_and_details_file_are_one_or_the_other(sim, ansible, tmp_path):
    run = ansible.run(fanout(operation='clear', hosts='lmcache', details_tmp=True, details_file=str(tmp_path / 'x.json')),
                      ansible.hosts())
    assert run.returncode != 0
    assert 'parameters are mutually exclusive: details_file|details_tmp' in run.result('Fan out')['msg']
    assert all(v == 4 for v in objects(sim).values())


def test_above_a_hundred_endpoints_the_result_keeps_the_exceptions_by_default():
    from ansible_collections.lmcache.kvcache.plugins.action.lmcache_fanout import DETAILS_ALL_MAX, _details
    results = dict(('h%04d' % n, {'changed': True}) for n in range(DETAILS_ALL_MAX + 1))
    results['h0005'] = {'failed': True}
    # A server that answered it is not healthy is one to look at (and one a health gate leaves out); a healthy one not.
    results['h0007'] = {'changed': False, 'healthy': False}
    results['h0008'] = {'changed': False, 'healthy': True}
    order = sorted(results)
    assert list(_details('auto', results, order)) == ['h0005', 'h0007']
    assert len(_details('all', results, order)) == DETAILS_ALL_MAX + 1
    del results['h0100']
    assert len(_details('auto', results, sorted(results))) == DETAILS_ALL_MAX


def test_diff_mode_with_the_exceptions_only_shows_the_diffs_of_those(sim, ansible):
    run = ansible.run(fanout(operation='clear', hosts='lmcache', details='exceptions'), ansible.hosts(), '--check', '--diff')
    assert run.returncode == 0, run.output
    result = run.result('Fan out')
    assert result['results'] == {} and result['diff'] == [] and result['summary']['changed'] == 20
    assert set(objects(sim).values()) == {4}
