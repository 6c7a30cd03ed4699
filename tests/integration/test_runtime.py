# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a node runs, on genuine servers: its periodic threads' health, the configuration it runs with (and the drift
of a fleet's), the log levels of its loggers at runtime. 0.5.6, keyed 0.5.7rc3, 0.5.0 (which has the routes), 0.4.4
(which has not), and the 0.5.6 engine. Every claim is checked on the nodes' own routes."""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import Fleet, http_json

KEY = 'runtime-s3cr3t-key'
PLAYBOOKS = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks')


@pytest.fixture(scope='module')
def nodes(tmp_path_factory, fleet):
    """The session's g3 (0.5.6), g2 (0.5.0) and g1 (0.4.4), and a keyed 0.5.7rc3, a 0.5.6 with twice the L1, an engine."""
    more = Fleet(str(tmp_path_factory.mktemp('runtime')))
    more.add('k57', '0.5.7rc3', api_key=KEY)
    more.add('big', '0.5.6', l1_size_gb=0.2)
    more.add('eng', '0.5.6', kind='engine')
    with more:
        yield dict(fleet.nodes, **more.nodes)


def level(node, logger: str) -> str:
    status, text = http_json('GET', node.url + '/loglevel?' + urllib.parse.urlencode({'logger_name': logger}),
                             api_key=node.api_key or None)
    assert status == 200, text
    return str(text).split(': ', 1)[1].strip()


@pytest.mark.parametrize('name', ['g3', 'g2', 'k57', 'eng'])
def test_server_info_reports_the_periodic_threads_and_the_running_configuration(nodes, ansible, name):
    node = nodes[name]
    run = ansible.adhoc('lmcache_server_info', {'url': node.url, 'config': True}, env={'LMCACHE_API_KEY': KEY})
    assert run.returncode == 0, run.output
    result = run.result()
    threads = result['threads']
    assert threads['healthy'] is True and threads['unhealthy'] == [] and result['healthy'] is True
    # A thread the node counted late (its 5 ms drain thread, on this loaded machine) is one of the node's own.
    own = http_json('GET', node.url + '/periodic-threads', api_key=node.api_key or None)[1]
    assert set(threads['late']) <= set(thread['name'] for thread in own['threads'])
    path = '/config' if name in ('g3', 'k57') else '/conf'
    assert set(result['config']) == set(http_json('GET', node.url + path, api_key=node.api_key or None)[1])
    if name == 'k57':
        # Where its key files are is configuration; the key itself never reaches the output.
        assert result['config']['mp']['api_key_files'] and KEY not in run.output
    assert 'threads' not in result['unavailable'] and 'config' not in result['unavailable']


def test_a_release_without_the_routes_says_so_and_stays_healthy(nodes, ansible):
    result = ansible.adhoc('lmcache_server_info', {'url': nodes['g1'].url, 'config': True}).result()
    assert result['healthy'] is True and result['threads'] is None and result['config'] is None
    assert 'has no GET /periodic-threads-health (LMCache 0.5.0 and later)' in result['unavailable']['threads']
    assert 'has no GET /config or /conf' in result['unavailable']['config']


def test_the_fleet_report_shows_the_drift_of_a_mixed_fleet_and_of_what_was_declared(nodes, ansible, tmp_path):
    # Drift is compared among healthy nodes, so every node must read healthy: a 0.5.6 node's 5 ms drain thread that is
    # a few milliseconds late on this loaded machine (the node then says it is not active) is late, not stuck.
    hosts = dict((name, {'lmcache_url': nodes[name].url}) for name in ('g3', 'big', 'k57', 'g2'))
    hosts['k57']['lmcache_api_key'] = KEY
    run = ansible.playbook_file(os.path.join(PLAYBOOKS, 'fleet_report.yml'), hosts, '-e', 'lmcache_hosts=all',
                                '-e', 'lmcache_fanout=true', '-e', 'lmcache_report_dir=%s' % tmp_path,
                                '-e', '{"lmcache_config_drift": true, "lmcache_expected_config": {"mp": {"chunk_size": 512}}}')
    assert run.returncode == 0, run.output
    report = json.loads((tmp_path / 'fleet' / 'lmcache-fleet-report.json').read_text())
    rows = [(row['host'], row['healthy'], row['health_reason'], row['error']) for row in report['hosts']]
    assert all(healthy for _host, healthy, _reason, _error in rows), rows
    drift = report['config_drift']
    by_field = dict((entry['field'], entry) for entry in drift['fields'])
    size = 'storage_manager.l1_manager_config.memory_config.size_in_bytes'
    # The node started with twice the L1 differs from the fleet's 0.1 GiB; its own host and port are not drift.
    assert by_field[size]['value'] == 107374182 and [d['host'] for d in by_field[size]['differing']] == ['big']
    assert not [field for field in by_field if field.rsplit('.', 1)[-1] in ('host', 'port', 'instance_id', 'shm_name')]
    # A field 0.5.0 does not have is compared among the nodes that have it, not reported against 0.5.0.
    assert all('g2' not in [d['host'] for d in entry['differing']] for field, entry in by_field.items()
               if field in ('mp.grpc_server_workers', 'mp.transport'))
    declared = dict((entry['field'], entry) for entry in drift['expected'])
    assert declared['mp.chunk_size']['differing_count'] == 4
    assert any(o['host'] == 'big' and o['reason'].startswith('configuration differs: ') for o in report['outliers'])
    markdown = (tmp_path / 'fleet' / 'lmcache-fleet-report.md').read_text()
    assert '## Configuration drift' in markdown and KEY not in markdown and KEY not in run.output


@pytest.mark.parametrize('name', ['g3', 'g2', 'k57', 'eng'])
def test_log_levels_are_declared_idempotently_with_check_mode_and_diff(nodes, ansible, name):
    node = nodes[name]
    env = {'LMCACHE_API_KEY': KEY}
    args = {'url': node.url, 'levels': {'lmcache.v1.storage_manager': 'debug', 'lmcache': 'INFO'}}
    before = level(node, 'lmcache.v1.storage_manager')
    check = ansible.adhoc('lmcache_loglevel', args, '--check', '--diff', env=env)
    assert check.result()['changed'] is (before != 'DEBUG') and level(node, 'lmcache.v1.storage_manager') == before
    run = ansible.adhoc('lmcache_loglevel', args, env=env)
    assert run.returncode == 0, run.output
    assert run.result()['before']['lmcache.v1.storage_manager'] == before
    assert run.result()['after'] == {'lmcache.v1.storage_manager': 'DEBUG', 'lmcache': 'INFO'}
    assert level(node, 'lmcache.v1.storage_manager') == 'DEBUG'
    assert ansible.adhoc('lmcache_loglevel', args, env=env).result()['changed'] is False
    back = ansible.adhoc('lmcache_loglevel', dict(args, levels={'lmcache.v1.storage_manager': before}), env=env)
    assert back.result()['changed'] is True and level(node, 'lmcache.v1.storage_manager') == before


def test_log_levels_on_a_release_without_the_route_fail_saying_so_and_bad_levels_before_any_request(nodes, ansible):
    old = ansible.adhoc('lmcache_loglevel', {'url': nodes['g1'].url, 'levels': {'lmcache': 'DEBUG'}})
    assert old.returncode != 0 and 'cannot read and set log levels: it has no loglevel endpoint (GET /loglevel)' \
        in old.result()['msg']
    bad = ansible.adhoc('lmcache_loglevel', {'url': nodes['g3'].url, 'levels': {'lmcache': 'LOUD', 'a b': 'INFO'}})
    assert bad.returncode != 0 and 'the level of lmcache must be one of CRITICAL' in bad.result()['msg']
    assert "'a b' is not a logger name" in bad.result()['msg'] and level(nodes['g3'], 'lmcache') == 'INFO'


@pytest.mark.parametrize('fails', [False, True])
def test_the_incident_playbook_raises_the_levels_then_puts_them_back_even_when_a_step_fails(nodes, ansible, fails):
    hosts = {'g3': {'lmcache_url': nodes['g3'].url}, 'eng': {'lmcache_url': nodes['eng'].url}}
    before = dict((name, level(nodes[name], 'lmcache.v1')) for name in hosts)
    options = ['-e', 'lmcache_hosts=all', '-e', '{"lmcache_log_levels": {"lmcache.v1": "DEBUG"}}',
               '-e', 'lmcache_debug_seconds=%d' % (30 if fails else 1)]
    if fails:
        # The wait is cut short by the task timeout: the step fails, and the levels go back all the same.
        os.environ['ANSIBLE_TASK_TIMEOUT'] = '4'
    try:
        run = ansible.playbook_file(os.path.join(PLAYBOOKS, 'loglevel_incident.yml'), hosts, *options)
    finally:
        os.environ.pop('ANSIBLE_TASK_TIMEOUT', None)
    assert (run.returncode != 0) is fails, run.output
    raised = [r for r in run.records if r['task'] == 'Raise the log levels']
    assert sorted(r['host'] for r in raised) == ['eng', 'g3'] and all(r['result']['changed'] for r in raised)
    assert dict((name, level(nodes[name], "lmcache.v1")) for name in hosts) == before, run.output
    restored = [r for r in run.records if r['task'] == 'Put back the levels that were there before']
    assert sorted(r['host'] for r in restored) == ['eng', 'g3']
