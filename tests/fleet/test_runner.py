# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Past one controller: the maintenance window through ansible-runner, as AWX and Automation Platform run it, with the
collection installed from its tarball and the coordinator as the inventory; each host's outcome read from runner's
events; and a run sliced with --limit, as job slicing does, that covers every host exactly once."""

from __future__ import annotations

import glob
import os
import subprocess

import ansible_runner
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """The collection built into a tarball and installed from it, as ansible-galaxy does."""
    work = tmp_path_factory.mktemp('tarball')
    subprocess.run(['ansible-galaxy', 'collection', 'build', ROOT, '--output-path', str(work)], check=True,
                   stdout=subprocess.DEVNULL)
    tarball = glob.glob(str(work / 'lmcache-kvcache-*.tar.gz'))[0]
    collections = work / 'collections'
    subprocess.run(['ansible-galaxy', 'collection', 'install', '--force', tarball, '-p', str(collections)], check=True,
                   stdout=subprocess.DEVNULL)
    return str(collections)


def run_window(tmp_path, sim, installed, name, **options):
    data = tmp_path / name
    data.mkdir()
    inventory = data / 'fleet.lmcache.yml'
    inventory.write_text('plugin: lmcache.kvcache.coordinator\ncoordinator_url: %s\n' % sim.coordinator_url)
    playbook = os.path.join(installed, 'ansible_collections', 'lmcache', 'kvcache', 'playbooks', 'maintenance_window.yml')
    return ansible_runner.run(
        private_data_dir=str(data), playbook=playbook, inventory=str(inventory), quiet=True,
        extravars=dict({'lmcache_report_dir': str(data / 'reports')}, **options.pop('extravars', {})),
        envvars={'ANSIBLE_COLLECTIONS_PATH': installed, 'ANSIBLE_LOCALHOST_WARNING': 'false'}, **options)


def fanout_results(runner, task='Clear L1 on every host, one canary first, then batches'):
    for event in runner.events:
        if event['event'] == 'runner_on_ok' and event['event_data'].get('task') == task:
            return event['event_data']['res']['results']
    raise AssertionError('no result of %r in the runner events' % task)


def test_the_window_runs_through_ansible_runner_from_the_tarball(sim, installed, tmp_path):
    runner = run_window(tmp_path, sim, installed, 'whole', extravars={'lmcache_fanout': True})
    assert runner.status == 'successful' and runner.rc == 0, runner.stdout.read()
    results = fanout_results(runner)
    assert sorted(results) == sorted(sim.by_name)
    assert all(r['changed'] and r['objects_cleared'] == 4 for r in results.values())
    assert all(node.objects == 0 for node in sim.by_name.values())
    assert os.path.exists(str(tmp_path / 'whole' / 'reports' / 'after' / 'lmcache-fleet-report.json'))


def test_per_host_outcomes_come_from_runner_events(sim, installed, tmp_path):
    runner = run_window(tmp_path, sim, installed, 'per-host', limit='node-0000,node-0001,node-0002')
    assert runner.rc == 0, runner.stdout.read()
    cleared = dict((e['event_data']['host'], e['event_data']['res']) for e in runner.events
                   if e['event'] == 'runner_on_ok' and e['event_data'].get('task') == 'Clear L1')
    assert sorted(cleared) == ['node-0000', 'node-0001', 'node-0002']
    assert all(result['changed'] and result['objects_cleared'] == 4 for result in cleared.values())
    assert [sim.by_name['node-%04d' % n].objects for n in range(4)] == [0, 0, 0, 4]


def test_slices_cover_every_host_exactly_once(sim, installed, tmp_path):
    names = sorted(sim.by_name)
    slices = 4
    seen = []
    for number in range(slices):
        # As AWX job slicing: each slice a job of its own, limited to its share of the inventory.
        runner = run_window(tmp_path, sim, installed, 'slice-%d' % number, limit=','.join(names[number::slices]),
                            extravars={'lmcache_fanout': True})
        assert runner.rc == 0, runner.stdout.read()
        results = fanout_results(runner)
        assert sorted(results) == names[number::slices]
        seen += list(results)
    assert sorted(seen) == names and len(seen) == len(set(seen))
    assert all(node.objects == 0 and node.clears == 1 for node in sim.by_name.values())
