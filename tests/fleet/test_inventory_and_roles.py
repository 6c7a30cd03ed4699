# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The coordinator inventory and the roles through ansible against the simulated fleet, faults included."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from ansible_collections.lmcache.kvcache.tests.helpers.ansible_run import SERVER_INFO_PLAY
from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet

TOKENS = [6] + [9906] * 512


def plain(value):
    """A value of ansible-inventory --list, without the marker ansible-core 2.19 puts on untrusted strings."""
    if isinstance(value, dict):
        return value['__ansible_unsafe'] if set(value) == {'__ansible_unsafe'} else dict((k, plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def inventory_json(ansible, path, *options):
    environment = dict(os.environ, ANSIBLE_INVENTORY_ENABLED='lmcache.kvcache.coordinator')
    return subprocess.run(['ansible-inventory', '-i', path] + list(options), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=environment, cwd=ansible.workdir, check=False)


def test_every_registered_node_is_a_host_with_its_url_and_groups(sim, ansible):
    sim.by_name['node-0012'].objects = 200  # 800 MiB of its 1 GiB L1
    path = ansible.coordinator_inventory(usage=True, keyed_groups=[{'key': 'lmcache_metadata.rack', 'prefix': 'rack'}],
                                         groups={'busy': "lmcache_usage.l1.usage_ratio > 0.5"},
                                         compose={'lmcache_rack': 'lmcache_metadata.rack'})
    done = inventory_json(ansible, path, '--list')
    assert done.returncode == 0, done.stdout
    inventory = json.loads(done.stdout)
    assert sorted(inventory['lmcache']['hosts']) == sorted(sim.by_name)
    host = plain(inventory['_meta']['hostvars']['node-0005'])
    assert host['lmcache_url'] == sim.url('node-0005')
    assert host['lmcache_coordinator_url'] == sim.coordinator_url and host['ansible_connection'] == 'local'
    assert host['lmcache_usage']['l1']['used_bytes'] == 4 * 4194304 and host['lmcache_rack'] == 'r1'
    assert 'node-0005' in inventory['rack_r1']['hosts'] and 'node-0012' in inventory['busy']['hosts']
    # The rest of the registration is no host variable unless asked for: Ansible pays for each one on every host.
    assert not set(host) & {'lmcache_instance_id', 'lmcache_registration_time', 'lmcache_metadata'}
    # Each host's own variables are the URL and the usage; what a coordinator's nodes share is on its group.
    exported = json.loads(inventory_json(ansible, path, '--list', '--export').stdout)
    assert sorted(exported['_meta']['hostvars']['node-0005']) == ['lmcache_rack', 'lmcache_url', 'lmcache_usage']
    coordinator_group = [g for g in inventory if g.startswith('lmcache_coordinator_127_0_0_1_')]
    assert len(coordinator_group) == 1
    graph = inventory_json(ansible, path, '--graph')
    assert '@lmcache:' in graph.stdout and 'node-0019' in graph.stdout


def test_host_variables_brings_the_registration_fields_asked_for(sim, ansible):
    path = ansible.coordinator_inventory(host_variables=['instance_id', 'metadata'])
    done = inventory_json(ansible, path, '--list', '--export')
    assert done.returncode == 0, done.stdout
    host = plain(json.loads(done.stdout)['_meta']['hostvars']['node-0005'])
    assert host == {'lmcache_url': sim.url('node-0005'), 'lmcache_instance_id': 'node-0005',
                    'lmcache_metadata': {'model': 'test-model', 'rack': 'r1'}}
    refused = inventory_json(ansible, ansible.coordinator_inventory(host_variables=['ip']), '--list')
    assert 'node-0005' not in refused.stdout and 'host_variables' in refused.stdout and 'ip' in refused.stdout


def test_modules_run_on_the_discovered_hosts_without_ssh(sim, ansible):
    path = ansible.coordinator_inventory()
    play = os.path.join(ansible.workdir, 'report.yml')
    with open(play, 'w') as handle:
        handle.write(SERVER_INFO_PLAY)
    run = ansible._run(['ansible-playbook', '-i', path, play])
    assert run.returncode == 0, run.output
    assert len([r for r in run.records if r['task'] == 'Read' and r['result']['healthy']]) == 20


def test_a_task_deadline_holds_after_the_inventory_read_the_coordinator(sim, ansible):
    # The inventory plugin's requests run in ansible-playbook itself; each task runs in a process forked from it.
    sim.fault('drip', node='node-0003', method='GET', path='/status', interval=0.2, times=9)
    play = os.path.join(ansible.workdir, 'read.yml')
    with open(play, 'w') as handle:
        handle.write(SERVER_INFO_PLAY.replace('url: "{{ lmcache_url }}"', 'url: "{{ lmcache_url }}"\n        deadline: 2'))
    started = time.monotonic()
    run = ansible._run(['ansible-playbook', '-i', ansible.coordinator_inventory(), '--limit', 'node-0003', play])
    assert time.monotonic() - started < 60
    assert run.returncode == 2, run.output
    read = [r for r in run.records if r['task'] == 'Read'][0]
    assert read['outcome'] == 'failed', read
    assert 'GET %s/status: no complete answer before the task deadline of 2s' % sim.url('node-0003') in read['result']['msg']


@pytest.mark.parametrize('change, problem', [
    (dict(coordinator_url='http://127.0.0.1:9', retries=0), 'cannot read the LMCache coordinator http://127.0.0.1:9: GET '
                                                            'http://127.0.0.1:9/instances failed: cannot connect'),
    (dict(coordinator_url='WRONG/nope'), 'GET WRONG/nope/instances failed: HTTP 404 Not Found: Not Found'),
    (dict(coordinator_url='not a url'), 'coordinator_url must not contain spaces'),
    (dict(coordinator_url=['http://a:1', 5]), 'coordinator_url must be a URL or a list of URLs'),
])
def test_coordinator_problems_are_named(sim, ansible, change, problem):
    if change.get('coordinator_url') == 'WRONG/nope':
        change['coordinator_url'] = sim.coordinator_url + '/nope'
        problem = problem.replace('WRONG', sim.coordinator_url)
    path = ansible.coordinator_inventory(**change)
    done = inventory_json(ansible, path, '--list')
    assert problem in done.stdout, done.stdout
    assert 'Traceback' not in done.stdout


def test_the_coordinators_are_read_at_once_and_a_failure_named_in_their_order(ansible, tmp_path):
    with SimFleet(nodes=6, objects=4, coordinators=3) as fleet:
        urls = ['http://127.0.0.1:%d' % port for port in fleet.coordinator_ports]
        # Each coordinator's list is answered only while the three wait at once: read one after another, none is.
        fleet.fault('together', node='coordinator', method='GET', path='/instances', parties=3, times=3)
        path = str(tmp_path / 'three.lmcache.yml')
        with open(path, 'w') as handle:
            json.dump({'plugin': 'lmcache.kvcache.coordinator', 'coordinator_url': urls, 'retries': 0}, handle)
        done = inventory_json(ansible, path, '--list')
        assert done.returncode == 0 and 'did not wait at the same time' not in done.stdout, done.stdout
        inventory = json.loads(done.stdout)
        assert sorted(inventory['lmcache']['hosts']) == ['node-%04d' % number for number in range(6)]
        # Each coordinator's slice of the nodes is in its own group, whichever answered first.
        assert [sorted(inventory['lmcache_coordinator_127_0_0_1_%d' % port]['hosts']) for port in fleet.coordinator_ports] \
            == [['node-0000', 'node-0001'], ['node-0002', 'node-0003'], ['node-0004', 'node-0005']]
        # Two that cannot be read: the parse names the first in the order given, whichever failed first.
        with open(path, 'w') as handle:
            json.dump({'plugin': 'lmcache.kvcache.coordinator', 'retries': 0,
                       'coordinator_url': [urls[0], 'http://127.0.0.1:9', urls[1] + '/nope']}, handle)
        done = inventory_json(ansible, path, '--list')
        assert 'cannot read the LMCache coordinator http://127.0.0.1:9: GET http://127.0.0.1:9/instances failed: ' \
               'cannot connect' in done.stdout, done.stdout
        assert '/nope' not in done.stdout and 'Traceback' not in done.stdout


def test_a_payload_of_the_wrong_shape_is_named(sim, ansible):
    sim.fault('body', node='coordinator', method='GET', path='/instances', body={'instances': {'node-a': {}}}, times=9)
    done = inventory_json(ansible, ansible.coordinator_inventory(), '--list')
    assert "cannot read instances from the answer: {'node-a': {}} (an object), expected a list" in done.stdout
    sim.clear_faults()
    sim.fault('body', node='coordinator', method='GET', path='/instances', body={'instances': [{'instance_id': 'a'}]}, times=9)
    done = inventory_json(ansible, ansible.coordinator_inventory(), '--list')
    # One registration without an address is left out with a warning that names it; it does not take the rest down.
    assert done.returncode == 0, done.stdout
    assert 'instance a (instances[0]).ip is null, expected an IP address or a host name' in done.stdout


def test_the_inventory_cache_serves_a_second_read(sim, ansible, tmp_path):
    path = ansible.coordinator_inventory(cache=True, cache_plugin='ansible.builtin.jsonfile',
                                         cache_connection=str(tmp_path / 'cache'), cache_timeout=600)
    assert inventory_json(ansible, path, '--list').returncode == 0
    sim.fault('status', node='coordinator', method='GET', path='/instances', status=500, times=9)
    cached = inventory_json(ansible, path, '--list')
    assert cached.returncode == 0 and 'node-0004' in cached.stdout


CLEAR_ROLE = '''
- hosts: lmcache
  gather_facts: false
  roles:
    - role: lmcache.kvcache.kvcache_clear
      vars:
        kvcache_clear_url: "{{ lmcache_url }}"
        kvcache_clear_fanout: %s
'''


def test_clear_role_stops_on_an_unhealthy_node_with_its_reason(sim, ansible):
    sim.by_name['node-0001'].starting = True
    run = ansible.run(CLEAR_ROLE % 'false', ansible.hosts(['node-0000', 'node-0001']))
    assert run.returncode != 0
    assert 'is not healthy: engine not initialized' in run.result('Stop if the server is not healthy', 'node-0001')['msg']
    assert sim.by_name['node-0001'].objects == 4 and sim.by_name['node-0000'].objects == 0


def test_clear_role_fanned_out_clears_the_healthy_nodes_and_fails_naming_the_unhealthy_one(sim, ansible):
    sim.by_name['node-0001'].starting = True
    run = ansible.run(CLEAR_ROLE % 'true', ansible.hosts(['node-0000', 'node-0001', 'node-0002']))
    assert run.returncode != 0
    message = run.result('Stop if a server is not healthy, with each server\'s own reason (the healthy ones are cleared)')['msg']
    assert 'not cleared, not healthy: node-0001 (engine not initialized)' in message
    assert sim.by_name['node-0001'].objects == 4
    assert sim.by_name['node-0000'].objects == 0 and sim.by_name['node-0002'].objects == 0


def test_clear_role_fanned_out_leaves_out_a_copy_of_an_unhealthy_node_and_only_that(sim, ansible):
    # Two more hosts with the URLs of others: the copy of a healthy node is that node (cleared once, no exception),
    # the copy of the unhealthy one is left out and named with it.
    sim.by_name['node-0001'].starting = True
    hosts = ansible.hosts(['node-0000', 'node-0001', 'node-0002'], **{
        'copy-a': {'lmcache_url': sim.url('node-0000')}, 'copy-b': {'lmcache_url': sim.url('node-0001')}})
    run = ansible.run(CLEAR_ROLE % 'true', hosts)
    assert run.returncode != 0
    message = run.result('Stop if a server is not healthy, with each server\'s own reason (the healthy ones are cleared)')['msg']
    assert message.endswith('not cleared, not healthy: copy-b (engine not initialized); node-0001 (engine not initialized)')
    assert [sim.by_name[n].objects for n in ('node-0000', 'node-0001', 'node-0002')] == [0, 4, 0]
    assert sim.by_name['node-0000'].clears == 1 and sim.by_name['node-0001'].clears == 0


def test_clear_role_fans_out_with_the_same_result(sim, ansible):
    run = ansible.run(CLEAR_ROLE % 'true', ansible.hosts())
    assert run.returncode == 0, run.output
    assert all(node.objects == 0 for node in sim.by_name.values())
    facts = run.result('Expose the results')['ansible_facts']
    assert facts['kvcache_clear_results']['node-0003']['objects_cleared'] == 4
    assert facts['kvcache_clear_summary']['changed'] == 20
    assert facts['kvcache_clear_summary']['totals']['objects_cleared'] == 80


@pytest.mark.parametrize('fanout', ['false', 'true'])
def test_clear_role_fails_where_objects_in_use_remain_and_stops_there(sim, ansible, fanout):
    # The canary's objects are in use by in-flight requests: the clear leaves them, the host fails, and (one canary,
    # then a batch, max_fail_percentage 0) the other hosts keep their cache, on either path.
    sim.by_name['node-0000'].locked_objects = 2
    play = CLEAR_ROLE.replace('  gather_facts: false', '  gather_facts: false\n  serial: [1, 2]\n  max_fail_percentage: 0')
    if fanout == 'true':
        play = play.replace('kvcache_clear_fanout: true', 'kvcache_clear_fanout: true\n        kvcache_clear_batches: [1, 2]')
    run = ansible.run(play % fanout, ansible.hosts(['node-0000', 'node-0001', 'node-0002']))
    assert run.returncode != 0
    assert '2 objects remain in L1 of %s after the clear, more than max_remaining=0' % sim.url('node-0000') in run.output
    assert [sim.by_name[n].objects for n in ('node-0000', 'node-0001', 'node-0002')] == [2, 4, 4]


REPORT_ROLE = '''
- hosts: lmcache
  gather_facts: false
  roles:
    - role: lmcache.kvcache.fleet_report
      vars:
        fleet_report_fanout: true
        fleet_report_dir: %s
'''


def test_the_fanned_out_report_goes_through_a_private_file_gone_with_the_run(sim, ansible, tmp_path):
    sim.by_name['node-0001'].starting = True
    # A node's own text is data on either route, never a template.
    marker = tmp_path / 'templated'
    version = "0.5.6-g3e11e108 {{ lookup('pipe', 'touch %s') }}" % marker
    sim.fault('status', node='node-0002', method='GET', path='/version', status=200, body=version, times=9)
    scratch = tmp_path / 'tmp'
    scratch.mkdir()
    names = ['node-0000', 'node-0001', 'node-0002']
    run = ansible.run(REPORT_ROLE % (tmp_path / 'report'), ansible.hosts(names), env={'ANSIBLE_LOCAL_TEMP': str(scratch)})
    assert run.returncode == 0, run.output
    fanned = run.result("Read every host's LMCache server at once from the controller")
    # The results are not a variable but the one exception's (the node still starting): the file was in the run's own
    # private directory under ANSIBLE_LOCAL_TEMP, and is gone with it.
    assert (list(fanned['results']), fanned['summary']['endpoints']) == (['node-0001'], 3)
    assert fanned['details_file'].startswith(str(scratch) + os.sep)
    assert os.listdir(str(scratch)) == []
    report = json.loads((tmp_path / 'report' / 'lmcache-fleet-report.json').read_text())
    assert [(row['host'], row['healthy'], row['l1_objects']) for row in report['hosts']] == [
        ('node-0000', True, 4), ('node-0001', False, None), ('node-0002', True, 4)]
    assert [o['host'] for o in report['outliers']] == ['node-0001']
    assert report['hosts'][2]['version'] == version and not marker.exists()


def test_roles_leave_the_key_to_the_environment_when_theirs_is_empty(sim, ansible):
    node = sim.add_node('keyed', api_key='env-s3cr3t', objects=4)
    run = ansible.run(CLEAR_ROLE % 'false', {'keyed': {'lmcache_url': sim.url(node)}}, env={'LMCACHE_API_KEY': 'env-s3cr3t'})
    assert run.returncode == 0, run.output
    assert node.objects == 0 and 'env-s3cr3t' not in run.output


PIN_ROLE = '''
- hosts: lmcache
  gather_facts: false
  roles:
    - role: lmcache.kvcache.kvcache_pin
      vars:
        kvcache_pin_url: "{{ lmcache_url }}"
        kvcache_pin_scope: host
        kvcache_pin_coordinator_url: %s
        kvcache_pin_requests:
          - name: system prompt
            model_name: test-model
            token_ids: %s
'''


def test_pin_role_pins_a_token_sequence_once_whatever_the_scope(sim, ansible):
    sim.store('node-0000', TOKENS)
    run = ansible.run(PIN_ROLE % (sim.coordinator_url, json.dumps(TOKENS)), ansible.hosts(['node-0000', 'node-0001', 'node-0002']))
    assert run.returncode == 0, run.output
    assert [sim.pin_count(TOKENS, i) for i in range(2)] == [1, 1] and sim.coordinator.pin_writes == 1


def test_maintenance_window_fan_out_and_per_host_agree(sim, ansible, tmp_path):
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')
    with open(playbook) as handle:
        text = handle.read()
    sim.by_name['node-0004'].starting = True
    sim.store('node-0000', TOKENS, tiers=('L2',))
    rewarm = json.dumps({'lmcache_rewarm_requests': [{'name': 'hot', 'model_name': 'test-model', 'token_ids': TOKENS}],
                         'lmcache_coordinator_url': sim.coordinator_url})
    hosts = ansible.hosts(['node-%04d' % n for n in range(6)])
    fan = ansible.run(text.replace('vars/lmcache.yml', os.path.join(os.path.dirname(playbook), 'vars', 'lmcache.yml'))
                      .replace("'hooks/", "'%s/hooks/" % os.path.dirname(playbook))
                      .replace(' tasks/', ' %s/tasks/' % os.path.dirname(playbook)), hosts,
                      '-e', 'lmcache_fanout=true', '-e', 'lmcache_report_dir=%s' % (tmp_path / 'fan'), '-e', rewarm)
    assert fan.returncode == 0, fan.output
    assert [sim.by_name['node-%04d' % n].objects for n in range(6)] == [2, 0, 0, 0, 4, 0]
    summary = fan.result('Show what the window did on each host')['msg']
    assert 'node-0004    left out of the window: not healthy: engine not initialized' in summary
    report = json.loads((tmp_path / 'fan' / 'after' / 'lmcache-fleet-report.json').read_text())
    assert [o for o in report['outliers'] if o['host'] == 'node-0004'] == [
        {'host': 'node-0004', 'reason': 'unhealthy: engine not initialized'}]
    assert fan.result('Warm the hot requests back from L2 into L1')['results'][0]['results']['node-0000']['chunks_warmed'] == [0, 1]

    # The same window, each host running its own tasks: the same outcome on the servers, the same summary.
    for name in ('node-0001', 'node-0002', 'node-0003', 'node-0005'):
        sim.by_name[name].objects = 4
    sim.by_name['node-0000'].tiers['L1'] = {}
    sim.by_name['node-0000'].objects = 4
    per_host = ansible.run(text.replace('vars/lmcache.yml', os.path.join(os.path.dirname(playbook), 'vars', 'lmcache.yml'))
                           .replace("'hooks/", "'%s/hooks/" % os.path.dirname(playbook))
                           .replace(' tasks/', ' %s/tasks/' % os.path.dirname(playbook)), hosts,
                           '-e', 'lmcache_report_dir=%s' % (tmp_path / 'host'), '-e', rewarm)
    assert [sim.by_name['node-%04d' % n].objects for n in range(6)] == [2, 0, 0, 0, 4, 0], per_host.output
    lines = per_host.result('Show what the window did on each host', 'node-0000')['msg']
    assert lines[:-1] == summary[:-1]


def test_a_window_over_more_than_a_hundred_hosts_sums_up_every_host_without_every_result(ansible, tmp_path):
    with SimFleet(nodes=120, objects=4) as big:
        ansible.fleet = big
        big.by_name['node-0007'].starting = True
        run = ansible.run(window_text(), ansible.hosts(), '-e', 'lmcache_fanout=true',
                          '-e', 'lmcache_report_dir=%s' % (tmp_path / 'reports'))
        assert run.returncode == 0, run.output
        assert sum(node.objects for node in big.by_name.values()) == 4
        facts = run.result('Expose the results')['ansible_facts']
        # Ansible carries the hosts to look at (none here), and the counts of them all.
        assert facts['kvcache_clear_results'] == {}
        assert (facts['kvcache_clear_summary']['changed'], facts['kvcache_clear_summary']['results_left_out']) == (119, 119)
        summary = run.result('Show what the window did on each host')['msg']
        assert summary[1:3] == ['node-0007    left out of the window: not healthy: engine not initialized',
                                '119 hosts cleared or unchanged are not listed (the fan-out\'s results leave them out; '
                                'the reports have every host)']
        assert 'window: 120 hosts: 119 cleared, 0 unchanged, 1 left out, 0 failed, 0 not run' in summary
        report = json.loads((tmp_path / 'reports' / 'after' / 'lmcache-fleet-report.json').read_text())
        assert sorted(set((row['healthy'], row['l1_objects']) for row in report['hosts'])) == [(False, None), (True, 0)]
        assert len(report['hosts']) == 120


def window_text():
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')
    with open(playbook) as handle:
        return (handle.read().replace('vars/lmcache.yml', os.path.join(os.path.dirname(playbook), 'vars', 'lmcache.yml'))
                .replace("'hooks/", "'%s/hooks/" % os.path.dirname(playbook))
                .replace(' tasks/', ' %s/tasks/' % os.path.dirname(playbook)))


@pytest.mark.parametrize('fanout', ['true', 'false'])
def test_the_window_stops_before_clearing_when_a_node_is_open_to_anyone(sim, ansible, tmp_path, fanout):
    keyed = sim.add_node('keyed', api_key='window-s3cr3t', objects=4)
    hosts = ansible.hosts(['node-0000', 'node-0001'])
    hosts['keyed'] = {'lmcache_url': sim.url(keyed), 'lmcache_api_key': 'window-s3cr3t'}
    run = ansible.run(window_text(), hosts, '-e', 'lmcache_fanout=%s' % fanout, '-e', 'lmcache_fail_on_exposed=true',
                      '-e', 'lmcache_report_dir=%s' % tmp_path)
    assert run.returncode != 0
    message = run.result("Fail when a host's admin routes are open to anyone")['msg']
    assert message.startswith('maintenance_window: 2 of 3 hosts answer administrative routes without an API key')
    assert 'node-0000, node-0001; node-0000 answers POST /run_script, GET /env, GET /loglevel, POST /metrics/reset' in message
    assert [sim.by_name[name].objects for name in ('node-0000', 'node-0001', 'keyed')] == [4, 4, 4]
    assert sim.by_name['node-0000'].clears == 0 and 'window-s3cr3t' not in run.output


def test_the_window_summary_gives_the_hit_ratio_before_after_and_during(sim, ansible, tmp_path):
    for name in ('node-0000', 'node-0001'):
        sim.by_name[name].counters.update(requested_tokens=1000, hit_tokens=500)
    run = ansible.run(window_text(), ansible.hosts(['node-0000', 'node-0001']), '-e', 'lmcache_fanout=true',
                      '-e', 'lmcache_report_dir=%s' % tmp_path)
    assert run.returncode == 0, run.output
    summary = run.result('Show what the window did on each host')['msg']
    assert summary[-3] == ('hit ratio: before 50.0% of 2000 tokens, after 50.0% of 2000 tokens (since each server '
                           'started); during the window none looked up')
    assert summary[-2].startswith('window: 2 hosts: 2 cleared')
