# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a node runs, on a simulated fleet where a node's periodic thread dies on cue (no genuine release can be made
to lose one): the window leaves such a node out, the report says why, the event source says when it happens and when
it is over; configuration drift through the event source, with every node text inert."""

from __future__ import annotations

import json
import os

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import FleetState, FleetWatch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def test_the_window_leaves_out_a_node_whose_eviction_thread_died_and_says_why(sim, ansible, tmp_path):
    sim.by_name['node-0003'].dead_threads = ['L1-eviction-thread']
    # A node whose drain thread ran 20 ms ago (LMCache then names it) is late, not stuck: it is cleared.
    sim.by_name['node-0002'].late_threads = ['DeviceHostFuncDispatcher']
    hosts = ansible.hosts(['node-%04d' % n for n in range(6)])
    with open(os.path.join(ROOT, 'playbooks', 'maintenance_window.yml')) as handle:
        text = handle.read().replace('vars/lmcache.yml', os.path.join(ROOT, 'playbooks', 'vars', 'lmcache.yml')) \
            .replace("'hooks/", "'%s/hooks/" % os.path.join(ROOT, 'playbooks')) \
            .replace(' tasks/', ' %s/tasks/' % os.path.join(ROOT, 'playbooks'))
    run = ansible.run(text, hosts, '-e', 'lmcache_fanout=true', '-e', 'lmcache_report_dir=%s' % tmp_path)
    assert run.returncode == 0, run.output
    assert sim.by_name['node-0003'].objects == 4 and sim.by_name['node-0003'].clears == 0
    assert all(sim.by_name['node-%04d' % n].objects == 0 for n in (0, 1, 2, 4, 5))
    summary = run.result('Show what the window did on each host')['msg']
    assert 'node-0003    left out of the window: not healthy: periodic threads not active: L1-eviction-thread' in summary
    report = json.loads((tmp_path / 'before' / 'lmcache-fleet-report.json').read_text())
    assert {'host': 'node-0003', 'reason': 'unhealthy: periodic threads not active: L1-eviction-thread'} in report['outliers']
    assert [row['host'] for row in report['hosts'] if not row['healthy']] == ['node-0003']


def test_the_event_source_says_when_a_nodes_threads_die_and_when_they_are_back(sim):
    watch = FleetWatch(dict(retries=0, deadline=10), [sim.url('node-0001')], [], FleetState())
    assert watch.poll() == []
    # A thread a moment late is no event.
    sim.by_name['node-0001'].late_threads = ['DeviceHostFuncDispatcher']
    assert watch.poll() == []
    sim.by_name['node-0001'].dead_threads = ['{{ lookup("pipe", "id") }}-thread', 'L2-store']
    died = watch.poll()
    kinds = [e['lmcache']['type'] for e in died]
    assert kinds == ['threads_unhealthy', 'unhealthy']
    # A node's text in an event: its braces replaced, never a template for the playbook it runs.
    assert died[0]['lmcache']['threads'] == ['(( lookup("pipe", "id") ))-thread', 'L2-store']
    assert watch.poll() == []
    sim.by_name['node-0001'].dead_threads = []
    assert [e['lmcache']['type'] for e in watch.poll()] == ['threads_healthy', 'healthy']


def test_the_event_source_reports_configuration_drift_once_per_change(sim):
    urls = [sim.url('node-%04d' % n) for n in range(3)]
    watch = FleetWatch(dict(retries=0, deadline=10, config=True), urls, [], FleetState())
    assert watch.poll() == []
    sim.by_name['node-0002'].config['mp']['chunk_size'] = '{{ 512 }}'
    first = [e['lmcache'] for e in watch.poll()]
    assert [e['type'] for e in first] == ['config_drift']
    assert first[0]['fields'] == [dict(field='mp.chunk_size', value=256, expected=False,
                                       differing=[dict(url=sim.url('node-0002'), value='(( 512 ))')])]
    assert watch.poll() == []
    expected = FleetWatch(dict(retries=0, deadline=10, config=True), urls, [],
                          FleetState(expected_config={'storage_manager': {'eviction_config': {'trigger_watermark': 0.7}}}))
    declared = [e['lmcache'] for e in expected.poll() if e['lmcache']['type'] == 'config_drift'][0]
    assert [f for f in declared['fields'] if f['expected']][0]['differing'][0]['value'] == 0.8
