# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""server_info and clear against genuine LMCache servers, through ansible and ansible-playbook.

Every state claim is checked on the server itself (its /status), not only from the module's result.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.lmcache.kvcache.tests.integration.conftest import emptied, filled
from ansible_collections.lmcache.kvcache.tests.helpers.round_trips import RoundTrips
from ansible_collections.lmcache.kvcache.scripts.fleet import Fleet, free_port, wait_until_healthy

MB4 = 4194304


def test_adhoc_clear_empties_a_populated_0_5_6_server_then_is_unchanged(fleet, ansible):
    node = filled(emptied(fleet.nodes['g3']))

    first = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url})
    assert first.returncode == 0, first.output
    assert 'CHANGED' in first.output
    result = first.result()
    assert result['changed'] is True
    assert (result['objects_cleared'], result['bytes_cleared']) == (4, 4 * MB4)
    assert (result['api_generation'], result['version']) == ('G3', '0.5.6-g3e11e108')
    assert node.l1_objects() == 0

    second = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url})
    assert second.returncode == 0, second.output
    assert second.result()['changed'] is False and second.result()['objects_cleared'] == 0
    assert 'SUCCESS' in second.output


@pytest.mark.parametrize('name, generation', [('g3', 'G3'), ('g2', 'G2')])
def test_check_mode_leaves_every_object_in_place(fleet, ansible, name, generation):
    node = filled(emptied(fleet.nodes[name]))
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url}, '--check', '--diff')
    assert run.returncode == 0, run.output
    result = run.result()
    assert result['changed'] is True and result['objects_cleared'] == 4 and result['api_generation'] == generation
    assert result['msg'].startswith('Would clear 4 objects')
    assert '-        "objects": 4' in run.output and '+        "objects": 0' in run.output
    assert node.l1_objects() == 4


def test_force_clear_on_0_5_6(fleet, ansible):
    node = filled(emptied(fleet.nodes['g3']))
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url, 'force': True})
    assert run.result()['changed'] is True and run.result()['forced'] is True
    assert node.l1_objects() == 0


PLAYBOOK = '''
- name: Report on and clear every LMCache server
  hosts: all
  gather_facts: false
  module_defaults:
    group/lmcache.kvcache.lmcache:
      url: "{{ lmcache_url }}"
  tasks:
    - name: Before
      lmcache.kvcache.lmcache_server_info:
    - name: Clear
      lmcache.kvcache.lmcache_kvcache_clear:
    - name: After
      lmcache.kvcache.lmcache_server_info:
'''


def test_playbook_clears_a_mixed_generation_fleet_and_is_idempotent(fleet, ansible):
    g3, g2 = filled(emptied(fleet.nodes['g3'])), filled(emptied(fleet.nodes['g2']))
    hosts = {'gpu-g3': {'lmcache_url': g3.url}, 'gpu-g2': {'lmcache_url': g2.url}}

    run = ansible.playbook(PLAYBOOK, hosts)
    assert run.returncode == 0, run.output
    for host, generation, forced in (('gpu-g3', 'G3', False), ('gpu-g2', 'G2', True)):
        assert run.result('Before', host)['l1']['objects'] == 4
        assert run.result('Before', host)['api_generation'] == generation
        clear = run.result('Clear', host)
        assert clear['changed'] is True and clear['objects_cleared'] == 4 and clear['forced'] is forced
        assert run.result('After', host)['l1']['objects'] == 0
    assert g3.l1_objects() == 0 and g2.l1_objects() == 0
    assert 'changed=1' in run.output

    again = ansible.playbook(PLAYBOOK, hosts)
    assert again.returncode == 0, again.output
    assert all(r['result'].get('changed') is False for r in again.records)
    assert 'changed=0' in again.output and 'changed=1' not in again.output


def test_g1_server_is_read_and_cleared(fleet, ansible):
    node = fleet.nodes['g1']
    info = ansible.adhoc('lmcache_server_info', {'url': node.url})
    assert info.returncode == 0, info.output
    result = info.result()
    assert (result['api_generation'], result['version'], result['healthy']) == ('G1', None, True)
    assert result['l1']['bytes_total'] > 0 and result['chunk_size'] == 256

    # 0.4.4 cannot hold data without a GPU: an empty G1 cache is left alone, and says it would always force.
    clear = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url})
    assert clear.returncode == 0, clear.output
    assert clear.result()['changed'] is False and clear.result()['forced'] is True


def test_server_info_reports_usage_from_the_servers_own_status(fleet, ansible):
    node = filled(emptied(fleet.nodes['g2']))
    result = ansible.adhoc('lmcache_server_info', {'url': node.url}).result()
    status = node.status()['storage_manager']['l1_manager']
    assert result['l1'] == {'objects': status['total_object_count'], 'bytes_used': status['memory_used_bytes'],
                            'bytes_total': status['memory_total_bytes'], 'usage_ratio': status['memory_usage_ratio']}
    assert result['version'] == '0.5.0-g389b9cfc' and 'version' in result['capabilities']


READ_FIELDS = ('healthy', 'version', 'api_generation', 'capabilities', 'l1', 'l2_adapters', 'quotas', 'threads', 'hits',
               'unavailable')


@pytest.mark.parametrize('name, objects', [('g3', 4), ('g2', 4), ('g1', 0)])
def test_server_info_reads_a_node_in_three_round_trips_with_the_same_result(fleet, ansible, name, objects):
    node = filled(emptied(fleet.nodes[name])) if objects else fleet.nodes[name]
    relay = RoundTrips(node.url)
    try:
        run = ansible.adhoc('lmcache_server_info', {'url': relay.url})
    finally:
        relay.close()
    assert run.returncode == 0, run.output
    info, direct = run.result(), ansible.adhoc('lmcache_server_info', {'url': node.url}).result()
    assert info['healthy'] is True and info['l1']['objects'] == node.l1_objects() == objects
    assert json.dumps([info[name] for name in READ_FIELDS]).replace(relay.url, node.url) \
        == json.dumps([direct[name] for name in READ_FIELDS])
    # Its version, its route list, then every route read at once (one request each would be 4 to 8 round trips).
    assert relay.count == 3


def test_connection_comes_from_the_environment(fleet, ansible):
    node = filled(emptied(fleet.nodes['g3']))
    run = ansible.adhoc('lmcache_kvcache_clear', {}, env={'LMCACHE_URL': node.url})
    assert run.result()['url'] == node.url and run.result()['objects_cleared'] == 4
    assert node.l1_objects() == 0


@pytest.fixture
def foreign_http_server(tmp_path):
    """A real HTTP server that is not LMCache: Python's own file server."""
    port = free_port()
    process = subprocess.Popen([sys.executable, '-m', 'http.server', str(port), '--bind', '127.0.0.1'], cwd=str(tmp_path),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = 'http://127.0.0.1:%d' % port
    wait_until_healthy(url + '/', process.pid, 'python -m http.server', timeout=30)
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope='module')
def stopped_server_url(tmp_path_factory):
    """The URL of a genuine LMCache server that answered once and has since been shut down."""
    down = Fleet(str(tmp_path_factory.mktemp('down')))
    node = down.add('down', '0.5.6')
    with down:
        assert node.l1_objects() == 0
    return node.url


def assert_clean_failure(run, url_fragment):
    assert run.returncode != 0, run.output
    assert run.outcome() == 'failed'
    result = run.result()
    assert url_fragment in result['msg'], result['msg']
    # ansible-core 2.19 puts '(traceback unavailable)' in every failure; a crash would carry a real one.
    assert 'Traceback' not in run.output and 'Traceback' not in str(result.get('exception', ''))
    assert 'module_stderr' not in result
    return result['msg']


def test_server_down_fails_naming_the_address(ansible, stopped_server_url):
    run = ansible.adhoc('lmcache_server_info', {'url': stopped_server_url, 'retries': 1})
    message = assert_clean_failure(run, stopped_server_url)
    assert 'cannot connect to %s (Connection refused) (after 2 attempts)' % stopped_server_url in message


def test_wrong_port_fails_naming_the_address(fleet, ansible):
    # A classic slip: the ZMQ port instead of the HTTP port.
    url = 'http://127.0.0.1:%d' % fleet.nodes['g3'].zmq_port
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': url, 'retries': 0, 'timeout': 3})
    assert_clean_failure(run, url)


def test_wrong_path_fails_naming_the_url(fleet, ansible):
    node = filled(emptied(fleet.nodes['g3']))
    url = node.url + '/v1'
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': url})
    message = assert_clean_failure(run, url)
    assert message == ('%s does not look like an LMCache server or engine: GET %s/openapi.json answered HTTP 404 '
                       '(Not Found), and none of POST /cache/clear, POST /clear-cache, POST /api/clear-cache, '
                       'DELETE /cache/clear exists there' % (url, url))
    assert node.l1_objects() == 4


def test_a_non_lmcache_http_server_fails_clearly(ansible, foreign_http_server):
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': foreign_http_server})
    message = assert_clean_failure(run, foreign_http_server)
    assert 'does not look like an LMCache server' in message and 'HTTP 404' in message


@pytest.mark.parametrize('args, message', [
    ({'url': '127.0.0.1:8080'}, 'url must be an http:// or https:// URL with a host'),
    ({'timeout': 0}, 'timeout must be greater than 0 and at most 3600 seconds'),
    ({'retries': -1}, 'retries must be from 0 to 10'),
    ({'ca_path': '/nonexistent/ca.pem'}, 'ca_path /nonexistent/ca.pem does not exist'),
    ({'client_key': '/etc/hostname'}, "missing parameter(s) required by 'client_key': client_cert"),
])
def test_bad_input_fails_and_changes_nothing(fleet, ansible, args, message):
    node = filled(emptied(fleet.nodes['g3']))
    run = ansible.adhoc('lmcache_kvcache_clear', dict({'url': node.url}, **args))
    assert run.returncode != 0 and run.outcome() == 'failed'
    assert message in run.result()['msg']
    assert node.l1_objects() == 4


def test_api_key_never_shows_in_output(fleet, ansible):
    node = fleet.nodes['g3']
    run = ansible.adhoc('lmcache_server_info', {'url': node.url, 'api_key': 'sk-very-secret-123'}, '-vvv')
    assert run.returncode == 0, run.output
    assert 'sk-very-secret-123' not in run.output


def test_modules_need_nothing_but_the_standard_library_on_the_host(fleet, ansible, tmp_path):
    bare = str(tmp_path / 'bare')
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', bare], check=True)
    run = ansible.adhoc('lmcache_server_info', {'url': fleet.nodes['g3'].url}, python=os.path.join(bare, 'bin', 'python'))
    assert run.returncode == 0, run.output
    assert run.result()['healthy'] is True and run.result()['api_generation'] == 'G3'


def test_maintenance_window_playbook_clears_the_fleet_and_is_safe_to_rerun(fleet, ansible, tmp_path):
    g3, g2 = filled(emptied(fleet.nodes['g3'])), filled(emptied(fleet.nodes['g2']))
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')
    hosts = {'gpu-g3': {'lmcache_url': g3.url}, 'gpu-g2': {'lmcache_url': g2.url}, 'gpu-g1': {'lmcache_url': fleet.nodes['g1'].url}}
    group = {'lmcache_hosts': 'all', 'lmcache_report_dir': str(tmp_path / 'reports')}

    check = ansible.playbook_file(playbook, hosts, '--check', '-e', json.dumps(group))
    assert check.returncode == 0, check.output
    assert g3.l1_objects() == 4 and g2.l1_objects() == 4
    assert "check mode: nothing was cleared" in check.output

    run = ansible.playbook_file(playbook, hosts, '-e', json.dumps(group))
    assert run.returncode == 0, run.output
    assert g3.l1_objects() == 0 and g2.l1_objects() == 0
    # The canary is cleared and verified alone, before any other host is touched.
    window = [(r['task'], r['host']) for r in run.records if r['task'] in ('Read the server', 'Clear L1')]
    canary = window[0][1]
    # The canary is read and cleared alone, before any other host is touched.
    assert window[:2] == [('Read the server', canary), ('Clear L1', canary)]
    assert sorted(host for task, host in window if task == 'Clear L1') == sorted(hosts)
    for when in ('before', 'after'):
        report = json.loads((tmp_path / 'reports' / when / 'lmcache-fleet-report.json').read_text())
        assert {row['host']: row['l1_objects'] for row in report['hosts']} == (
            {'gpu-g1': 0, 'gpu-g2': 4, 'gpu-g3': 4} if when == 'before' else {'gpu-g1': 0, 'gpu-g2': 0, 'gpu-g3': 0})
        assert (tmp_path / 'reports' / when / 'lmcache-fleet-report.png').stat().st_size > 1000
    assert 'gpu-g3' in run.output and '16.00 MB' in run.output

    again = ansible.playbook_file(playbook, hosts, '-e', json.dumps(group))
    assert again.returncode == 0, again.output
    assert [r['result']['changed'] for r in again.records if r['task'] == 'Clear L1'] == [False] * 3


def test_maintenance_window_leaves_out_an_unhealthy_or_unreachable_host(fleet, ansible, stopped_server_url, tmp_path):
    g3 = filled(emptied(fleet.nodes['g3']))
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')
    hosts = {'gpu-ok': {'lmcache_url': g3.url}, 'gpu-down': {'lmcache_url': stopped_server_url}}
    run = ansible.playbook_file(playbook, hosts, '-e', json.dumps({'lmcache_hosts': 'all', 'lmcache_report_dir': str(tmp_path)}))
    assert run.returncode != 0
    assert run.outcome('Leave out hosts that are not healthy', 'gpu-down') == 'failed'
    assert 'cannot connect to %s' % stopped_server_url in run.result('Leave out hosts that are not healthy', 'gpu-down')['msg']
    report = json.loads((tmp_path / 'before' / 'lmcache-fleet-report.json').read_text())
    assert [o['host'] for o in report['outliers']] == ['gpu-down']
    # The healthy host still gets its window; the broken one is reported, not silently skipped.
    assert g3.l1_objects() == 0
    assert 'gpu-down' in run.output and 'failed=1' in run.output


def python_interpreter(version):
    """An interpreter of `version`, from PATH or else from pyenv, as scripts/common.sh finds them."""
    candidates = [shutil.which('python%s' % version)]
    if shutil.which('pyenv'):
        prefix = subprocess.run(['pyenv', 'prefix', version], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                universal_newlines=True, check=False).stdout.strip()
        candidates.append(os.path.join(prefix, 'bin', 'python%s' % version) if prefix else None)
    for candidate in filter(None, candidates):
        # A pyenv shim exists on PATH even for a version that is not selected, and then fails.
        if subprocess.run([candidate, '-c', 'import sys'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          check=False).returncode == 0:
            return candidate
    raise AssertionError('Python %s is needed for this test (on PATH or through pyenv)' % version)


@pytest.fixture(scope='module')
def rhel9_python(tmp_path_factory):
    """A bare Python 3.9 (its standard library only): what a RHEL 9 GPU host runs the modules with."""
    venv = str(tmp_path_factory.mktemp('py39') / 'venv')
    subprocess.run([python_interpreter('3.9'), '-m', 'venv', '--without-pip', venv], check=True)
    return os.path.join(venv, 'bin', 'python')


def test_modules_run_on_a_python_3_9_host(fleet, ansible, rhel9_python):
    node = filled(emptied(fleet.nodes['g3']))
    info = ansible.adhoc('lmcache_server_info', {'url': node.url}, python=rhel9_python)
    assert info.returncode == 0, info.output
    assert info.result()['l1']['objects'] == 4
    clear = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url}, python=rhel9_python)
    assert clear.returncode == 0, clear.output
    assert clear.result()['objects_cleared'] == 4 and node.l1_objects() == 0


@pytest.mark.parametrize('module, extra', [('lmcache_kvcache_info', {}), ('lmcache_kvcache_pin', {}),
                                           ('lmcache_kvcache_compress', {'method': 'zstd'}),
                                           ('lmcache_kvcache_clear', {})])
def test_request_id_on_a_real_release_says_what_is_missing(fleet, ansible, module, extra):
    node = fleet.nodes['g3']
    run = ansible.adhoc(module, dict({'url': node.url, 'request_id': 'req-abc-123'}, **extra))
    assert run.outcome() == 'failed'
    message = run.result()['msg']
    assert message.startswith('%s (LMCache 0.5.6-g3e11e108, API G3) has no per-request endpoint ' % node.url)
    assert "no LMCache release offers the `lmcache kvcache` design's request-id API yet" in message


@pytest.mark.parametrize('extra, message', [
    ({'lmcache_batch': -2}, 'maintenance_window: lmcache_batch must be a number of hosts (1 or more) or a percentage'),
    ({'lmcache_batch': '150%'}, 'maintenance_window: lmcache_batch must be a number of hosts (1 or more) or a percentage'),
    ({'lmcache_force': 'maybe'}, 'lmcache_force must be true or false, got maybe'),
])
def test_maintenance_window_refuses_bad_variables_before_touching_a_host(fleet, ansible, extra, message):
    node = filled(emptied(fleet.nodes['g3']))
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')
    run = ansible.playbook_file(playbook, {'gpu-g3': {'lmcache_url': node.url}},
                                '-e', json.dumps(dict({'lmcache_hosts': 'all'}, **extra)))
    assert run.returncode != 0
    assert run.records[0]['task'] == "Check the window's variables" and run.records[0]['outcome'] == 'failed'
    assert message in run.records[0]['result']['msg']
    assert node.l1_objects() == 4


ROLE_PLAY = '''
- name: Apply a role with the given variables
  hosts: all
  gather_facts: false
  roles:
    - role: lmcache.kvcache.{role}
'''


@pytest.mark.parametrize('role, variables, message', [
    ('kvcache_pin', {'kvcache_pin_rejected_policy': 'ignore'}, 'kvcache_pin_rejected_policy'),
    ('kvcache_pin', {'kvcache_pin_scope': 'galaxy'}, 'kvcache_pin_scope'),
    ('kvcache_pin', {'kvcache_pin_max_usage': 1.5, 'kvcache_pin_requests': [{'request_id': 'req-1'}]},
     'max_usage must be greater than 0 and at most 1, got 1.5'),
    ('kvcache_pin', {'kvcache_pin_requests': [{'model_name': 'm'}]},
     'one of the following is required: request_id, token_ids, token_ids_file'),
    ('kvcache_clear', {'kvcache_clear_max_remaining': -1}, 'kvcache_clear_max_remaining must be 0 or more, got -1'),
    ('kvcache_clear', {'kvcache_clear_force': 'sometimes'}, 'kvcache_clear_force'),
    ('kvcache_clear', {'kvcache_clear_timeout': 0}, 'timeout must be greater than 0 and at most 3600 seconds'),
    ('fleet_report', {'fleet_report_usage_warn': 0}, 'usage_warn must be greater than 0 and at most 1, got 0.0'),
])
def test_bad_role_input_fails_naming_the_variable_and_changes_nothing(fleet, ansible, role, variables, message):
    node = filled(emptied(fleet.nodes['g3']))
    run = ansible.playbook(ROLE_PLAY.format(role=role), {'gpu-g3': dict({'lmcache_url': node.url}, **variables)})
    assert run.returncode != 0
    failed = [r for r in run.records if r['outcome'] == 'failed']
    assert len(failed) == 1, [r['task'] for r in run.records]
    results = failed[0]['result'].get('results') or [failed[0]['result']]
    assert any(message in (r.get('msg') or '') for r in results), failed[0]['result']
    assert not any(r['result'].get('changed') for r in run.records)
    assert node.l1_objects() == 4
