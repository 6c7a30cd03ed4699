# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Faults of genuine servers: a node killed mid-play, restarted between tasks, still starting; the coordinator down
while the nodes are up; a registered node that is dead. Each gives a clear per-host result, and a re-run converges."""

from __future__ import annotations

import glob
import json
import os
import signal
import socket
import time

import pytest

from ansible_collections.lmcache.kvcache.scripts import fleet as fleet_script
from ansible_collections.lmcache.kvcache.scripts.fleet import BENCH_MODEL, Fleet, bench_token_ids, http_json

SEQ0 = bench_token_ids(0)
SEQ7 = bench_token_ids(7)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'condition not met within %ss' % timeout
        time.sleep(0.5)


def registered(fleet):
    status, body = http_json('GET', fleet.coordinator.url + '/instances')
    return sorted(i['instance_id'] for i in body.get('instances', [])) if status == 200 else []


def placements(fleet, tokens):
    _status, reply = http_json('POST', fleet.coordinator.url + '/directory/lookup',
                               {'token_ids': tokens, 'model_name': BENCH_MODEL, 'world_size': 1, 'cache_salt': ''})
    return [sorted((p['instance_id'], p['tier']) for p in r['placements']) for r in reply.get('results', [])]


@pytest.fixture(scope='module')
def faulty(tmp_path_factory):
    fleet = Fleet(str(tmp_path_factory.mktemp('faulty')))
    fleet.add_coordinator()
    for name in ('node-a', 'node-b', 'node-c'):
        fleet.add(name, '0.5.6')
    with fleet:
        yield fleet


def restart(node):
    node.stop()
    node.start()
    node.wait_healthy()


KILL_MID_PLAY = '''
- name: A window during which one node dies
  hosts: all
  gather_facts: false
  tasks:
    - name: Read
      lmcache.kvcache.lmcache_server_info:
        url: "{{{{ lmcache_url }}}}"
    - name: Kill node-b (SIGKILL)
      ansible.builtin.command: kill -9 {pid}
      delegate_to: localhost
      run_once: true
      changed_when: true
    - name: Clear
      lmcache.kvcache.lmcache_kvcache_clear:
        url: "{{{{ lmcache_url }}}}"
        retries: 1
'''


def test_a_node_killed_mid_play_is_its_own_failure_and_a_rerun_converges(faulty, ansible):
    a, b = faulty.nodes['node-a'], faulty.nodes['node-b']
    a.fill(1)
    b.fill(1)
    hosts = {'node-a': {'lmcache_url': a.url}, 'node-b': {'lmcache_url': b.url}}
    run = ansible.playbook(KILL_MID_PLAY.format(pid=b.pid), hosts)
    assert run.returncode != 0
    assert run.outcome('Clear', 'node-a') == 'ok' and run.result('Clear', 'node-a')['changed'] is True
    assert run.outcome('Clear', 'node-b') == 'failed'
    assert 'cannot connect to %s (Connection refused) (after 2 attempts)' % b.url in run.result('Clear', 'node-b')['msg']
    assert 'Traceback' not in run.output and a.l1_objects() == 0
    b.pid = 0
    b.start()
    b.wait_healthy()
    again = ansible.playbook(KILL_MID_PLAY.replace('kill -9 {pid}', '/bin/true').format(), hosts)
    assert again.returncode == 0, again.output
    assert again.result('Clear', 'node-a')['changed'] is False and again.result('Clear', 'node-b')['changed'] is False


RESTART_BETWEEN = '''
- name: A node restarted between two tasks
  hosts: all
  gather_facts: false
  tasks:
    - name: Read
      lmcache.kvcache.lmcache_server_info:
        url: "{{ lmcache_url }}"
      register: before
    - name: Restart the node
      ansible.builtin.command: "{{ restart_command }}"
      delegate_to: localhost
      changed_when: true
    - name: Clear
      lmcache.kvcache.lmcache_kvcache_clear:
        url: "{{ lmcache_url }}"
        retries: 8
'''


def test_a_node_restarted_between_two_tasks_and_still_starting(faulty, ansible, tmp_path):
    c = faulty.nodes['node-c']
    c.fill(1)
    assert c.l1_objects() == 2
    # The restart returns as soon as the process is started: the clear meets it still starting (connection refused,
    # then HTTP 503 "engine not initialized"), and retries until it answers.
    state = tmp_path / 'fleet.json'
    faulty.save(str(state))
    script = tmp_path / 'restart.py'
    script.write_text('import sys\nsys.path.insert(0, %r)\nfrom fleet import Fleet\nfleet = Fleet.load(%r)\n'
                      'node = fleet.nodes["node-c"]\nnode.stop()\nnode.start()\nprint(node.pid)\n'
                      % (os.path.dirname(os.path.abspath(__import__('ansible_collections.lmcache.kvcache.scripts.fleet',
                                                                    fromlist=['x']).__file__)), str(state)))
    run = ansible.playbook(RESTART_BETWEEN, {'node-c': {'lmcache_url': c.url,
                                                        'restart_command': '%s %s' % (os.sys.executable, script)}})
    assert run.returncode == 0, run.output
    c.pid = int(run.result('Restart the node')['stdout'].strip())
    result = run.result('Clear')
    # A restarted node starts with an empty L1: nothing to clear, and the result says so from the server.
    assert result['changed'] is False and result['before'] == {'objects': 0, 'bytes_used': 0}
    assert any('retry' in w for w in run.result('Clear').get('warnings', [])) or result['status'] == 200


def test_a_registered_node_that_is_dead(faulty, ansible):
    a, b = faulty.nodes['node-a'], faulty.nodes['node-b']
    b.fill(1, first=7)  # a sequence not in its L2 yet (L2 files outlive a restart)
    wait_for(lambda: ('node-b', 'l1') in placements(faulty, SEQ7)[0])
    os.kill(b.pid, signal.SIGKILL)
    b.pid = 0
    assert 'node-b' in registered(faulty)  # the coordinator still lists it for about 30 s
    target = {'url': a.url, 'coordinator_url': faulty.coordinator.url, 'model_name': BENCH_MODEL, 'token_ids': SEQ7,
              'instance_id': 'node-b', 'tier': 'l1', 'delete_via': 'coordinator', 'retries': 1, 'deadline': 60}
    run = ansible.adhoc('lmcache_kvcache_clear', target)
    assert run.outcome() == 'failed'
    message = run.result()['msg']
    assert 'POST %s/cache/delete' % faulty.coordinator.url in message and 'HTTP 502 Bad Gateway' in message
    assert 'Traceback' not in run.output
    direct = ansible.adhoc('lmcache_kvcache_clear', dict(target, delete_via='node'))
    assert direct.outcome() == 'failed' and 'cannot connect to %s' % b.url in direct.result()['msg']
    b.start()
    b.wait_healthy()
    wait_for(lambda: 'node-b' in registered(faulty))
    converged = ansible.adhoc('lmcache_kvcache_clear', dict(target, delete_via='auto'))
    assert converged.returncode == 0, converged.output


def test_the_coordinator_down_while_the_nodes_are_up(faulty, ansible, tmp_path):
    a = faulty.nodes['node-a']
    a.fill(1)
    faulty.coordinator.stop()
    try:
        pin = ansible.adhoc('lmcache_kvcache_pin', {'coordinator_url': faulty.coordinator.url, 'model_name': BENCH_MODEL,
                                                    'token_ids': SEQ0, 'retries': 0})
        assert pin.outcome() == 'failed'
        assert 'cannot connect to %s (Connection refused)' % faulty.coordinator.url in pin.result()['msg']
        inventory = tmp_path / 'down.lmcache.yml'
        inventory.write_text(json.dumps({'plugin': 'lmcache.kvcache.coordinator', 'coordinator_url': faulty.coordinator.url,
                                         'retries': 0}))
        listing = ansible._run(['ansible-inventory', '-i', str(inventory), '--list'],
                               env={'ANSIBLE_INVENTORY_ENABLED': 'lmcache.kvcache.coordinator'})
        assert 'cannot read the LMCache coordinator %s' % faulty.coordinator.url in listing.output
        # The nodes serve on without it.
        info = ansible.adhoc('lmcache_server_info', {'url': a.url})
        assert info.returncode == 0 and info.result()['healthy'] is True
    finally:
        faulty.coordinator.start()
        faulty.coordinator.wait_healthy()
    wait_for(lambda: registered(faulty) == ['node-a', 'node-b', 'node-c'])
    again = ansible.adhoc('lmcache_kvcache_pin', {'coordinator_url': faulty.coordinator.url, 'model_name': BENCH_MODEL,
                                                  'token_ids': SEQ0, 'include_uncached': True})
    assert again.returncode == 0, again.output
    assert ansible.adhoc('lmcache_kvcache_pin', {'coordinator_url': faulty.coordinator.url, 'model_name': BENCH_MODEL,
                                                 'token_ids': SEQ0, 'state': 'absent'}).returncode == 0


def test_a_node_whose_picked_port_was_taken_first_starts_on_other_ports(monkeypatch, tmp_path):
    # As when a test stage running at the same time binds the port free_port() just let go of.
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        ports = iter([fleet_script.free_port(), taken.getsockname()[1]])
        real_free_port = fleet_script.free_port
        monkeypatch.setattr(fleet_script, 'free_port', lambda: next(ports, None) or real_free_port())
        servers = Fleet(str(tmp_path))
        node = servers.add('raced', '0.5.6')
        with servers:
            assert node.zmq_port != taken.getsockname()[1]
            assert node.l1_objects() == 0


def test_a_stopped_engine_leaves_no_shared_memory_for_a_later_client_of_its_pid(tmp_path):
    # LMCache's bench client names its shared memory after its pid and leaves it behind when stopped; a later client
    # given the same pid failed with "File exists" (seen once the machine had collected some hundred of them).
    servers = Fleet(str(tmp_path))
    node = servers.add('engined', '0.5.6')
    with servers:
        node.attach_engine()
        engine_pid = node.engine_pid
        assert glob.glob('/dev/shm/lmcache_kv_%d_*' % engine_pid)
    assert not glob.glob('/dev/shm/lmcache_kv_%d_*' % engine_pid)


def test_a_fleet_that_cannot_start_one_node_stops_the_ones_it_started(tmp_path):
    # `with Fleet(...)` runs no __exit__ when the start fails: servers left from a failed start kept running, and
    # polling, for the rest of the suite.
    servers = Fleet(str(tmp_path))
    started = servers.add('fine', '0.5.6')
    servers.add('refused', '0.5.0', extra_args=['--no-such-option'])
    with pytest.raises(RuntimeError, match='exited while starting'):
        with servers:
            pass
    # The node that did start no longer answers.
    with pytest.raises(OSError):
        http_json('GET', started.url + '/healthcheck', timeout=2)
