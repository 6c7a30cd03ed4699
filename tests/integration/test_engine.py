# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""LMCache inside vLLM: the genuine 0.5.6 engine, run CPU-only by LMCache's own standalone starter with its internal
API server, filled through its own POST /cache/store, beside a genuine 0.5.6 server of the same version. Every claim is
checked on the engine's own /metrics, /freeze/status, /bypass/list and /conf.

A vLLM pod's scheduler needs vLLM and a GPU: the pod here is two genuine engines on the ports of workers 0 and 1 of a
port start, and a stand-in for its scheduler on the port start, which answers what a scheduler's internal API server
answers about the pod (its /meta: role scheduler, two workers)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import threading
import typing as t

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import ENGINE_MODEL, Fleet, http_json
from ansible_collections.lmcache.kvcache.tests.helpers.round_trips import RoundTrips

CHUNK_BYTES = 2 * 2 * 256 * 4 * 16 * 2  # the standalone engine's KV shape, float16: 128 KiB a chunk


def free_ports(count: int) -> int:
    """A port start with `count` free ports from it."""
    for _attempt in range(50):
        with socket.socket() as probe:
            probe.bind(('127.0.0.1', 0))
            start = probe.getsockname()[1]
        if start + count < 65535 and all(_free(start + n) for n in range(count)):
            return start
    raise RuntimeError('no %d consecutive free ports' % count)


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(('127.0.0.1', port))
        except OSError:
            return False
    return True


class Scheduler:
    """The stand-in for a pod's scheduler: the engine's routes (its workers' own /openapi.json), its version, and a
    /meta that says it is the scheduler of two workers."""

    def __init__(self, port: int, worker_url: str) -> None:
        openapi = json.dumps(http_json('GET', worker_url + '/openapi.json')[1]).encode()
        version = json.dumps(http_json('GET', worker_url + '/version')[1]).encode()
        meta = json.dumps({'role': 'scheduler', 'world_size': 2, 'local_world_size': 2, 'worker_id': None,
                           'model_name': ENGINE_MODEL, 'chunk_size': 256, 'kv_shape': [2, 2, 256, 4, 16],
                           'kv_dtype': 'torch.float16'}).encode()
        answers = {'/openapi.json': openapi, '/version': version, '/meta': meta,
                   '/periodic-threads-health': b'{"healthy":true,"unhealthy_count":0,"unhealthy_threads":[]}'}

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                body = answers.get(self.path.split('?')[0])
                self.send_response(200 if body else 404)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body or b'{"detail":"Not Found"}')))
                self.end_headers()
                self.wfile.write(body or b'{"detail":"Not Found"}')

            def log_message(self, *args: t.Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = 'http://127.0.0.1:%d' % port

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope='module')
def engines(tmp_path_factory):
    """`alone`: an engine by itself; `w0`, `w1`: the workers of a pod whose scheduler is the stand-in; `g3`: a genuine
    0.5.6 server, the same release as the engines."""
    start = free_ports(3)
    fleet = Fleet(str(tmp_path_factory.mktemp('engines')))
    fleet.add('alone', '0.5.6', kind='engine')
    fleet.add('w0', '0.5.6', kind='engine', http_port=start + 1)
    fleet.add('w1', '0.5.6', kind='engine', http_port=start + 2)
    fleet.add('g3', '0.5.6')
    with fleet:
        scheduler = Scheduler(start, fleet.nodes['w0'].url)
        fleet.scheduler = scheduler
        try:
            yield fleet
        finally:
            scheduler.close()


def freeze(node) -> bool:
    return http_json('GET', node.url + '/freeze/status')[1]['freeze']


def refill(node, sequences: int = 2) -> None:
    http_json('DELETE', node.url + '/cache/clear')
    node.fill(sequences)
    assert node.l1_objects() == 2 * sequences


def test_server_info_reads_the_engine_as_an_engine(engines, ansible):
    alone = engines.nodes['alone']
    refill(alone)
    run = ansible.adhoc('lmcache_server_info', {'url': alone.url, 'audit': True})
    assert run.returncode == 0, run.output
    info = run.result()
    assert (info['kind'], info['api_generation'], info['version'], info['healthy']) == ('engine', 'engine', '0.5.6-g3e11e108', True)
    assert info['l1']['objects'] == alone.l1_objects() == 4 and info['l1']['bytes_used'] == 4 * CHUNK_BYTES
    assert info['l1']['bytes_total'] == int(0.1 * 1024 ** 3)
    engine = info['engine']
    assert (engine['model_name'], engine['role'], engine['worker_id'], engine['world_size']) == (ENGINE_MODEL, 'worker', 0, 1)
    assert engine['kv_shape'] == [2, 2, 256, 4, 16] and engine['backends'] == ['LocalCPUBackend']
    assert (engine['freeze'], engine['hot_cache'], engine['bypassed_backends']) == (False, True, [])
    assert info['hits']['stores'] == int(float(_metric(alone, 'lmcache:num_store_requests_total')))
    assert {'DELETE /cache/clear', 'POST /conf', 'PUT /freeze/enable', 'POST /run_script'} <= set(info['exposure']['exposed'])
    assert 'is healthy; L1 holds 4 objects (512.00 KB of' in info['msg'] and 'LMCache engine 0.5.6' in info['msg']


def test_server_info_reads_an_engine_in_three_round_trips_with_the_same_result(engines, ansible):
    alone = engines.nodes['alone']
    refill(alone)
    relay = RoundTrips(alone.url)
    try:
        run = ansible.adhoc('lmcache_server_info', {'url': relay.url, 'config': True})
    finally:
        relay.close()
    assert run.returncode == 0, run.output
    info, direct = run.result(), ansible.adhoc('lmcache_server_info', {'url': alone.url, 'config': True}).result()
    assert info['l1']['objects'] == 4 and info['config']['max_local_cpu_size'] == 0.1
    fields = ('healthy', 'version', 'kind', 'l1', 'engine', 'threads', 'config', 'hits', 'unavailable')
    assert dict((name, info[name]) for name in fields) == dict((name, direct[name]) for name in fields)
    # Its version, its route list, then its /meta (whether it is a pod's scheduler) and the ten reads at once.
    assert relay.count == 3


def _metric(node, name: str) -> str:
    text = http_json('GET', node.url + '/metrics')[1]
    return [line.rsplit(None, 1)[1] for line in text.splitlines() if line.startswith(name + '{')][0]


def test_a_clear_freezes_stores_for_the_clear_predicts_in_check_mode_and_is_idempotent(engines, ansible):
    alone = engines.nodes['alone']
    refill(alone)
    check = ansible.adhoc('lmcache_kvcache_clear', {'url': alone.url}, '--check', '--diff')
    assert check.result()['changed'] is True and check.result()['froze_stores'] is True
    assert alone.l1_objects() == 4 and freeze(alone) is False
    assert '"objects": 4' in check.output and '"objects": 0' in check.output  # the diff
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': alone.url})
    result = run.result()
    assert result['changed'] is True and result['objects_cleared'] == 4 and result['bytes_cleared'] == 4 * CHUNK_BYTES
    assert result['froze_stores'] is True and 'Stores were frozen during the clear, and unfrozen after it' in result['msg']
    assert alone.l1_objects() == 0 and freeze(alone) is False
    again = ansible.adhoc('lmcache_kvcache_clear', {'url': alone.url})
    assert again.result()['changed'] is False and 'is already empty' in again.result()['msg']


def test_a_clear_leaves_an_engine_the_operator_froze_frozen(engines, ansible):
    alone = engines.nodes['alone']
    refill(alone)
    assert ansible.adhoc('lmcache_engine', {'url': alone.url, 'freeze': True}).result()['changed'] is True
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': alone.url})
    assert run.result()['changed'] is True and run.result()['froze_stores'] is False
    assert alone.l1_objects() == 0 and freeze(alone) is True
    assert ansible.adhoc('lmcache_engine', {'url': alone.url, 'freeze': False}).result()['changed'] is True
    assert freeze(alone) is False


def test_engine_state_is_declared_idempotently_with_check_mode_and_diff(engines, ansible):
    alone = engines.nodes['alone']
    declared = {'url': alone.url, 'hot_cache': False, 'bypassed_backends': ['LocalCPUBackend'],
                'config': {'min_retrieve_tokens': '512', 'save_decode_cache': True}}
    check = ansible.adhoc('lmcache_engine', declared, '--check', '--diff')
    assert check.result()['changed'] is True
    assert http_json('GET', alone.url + '/hot_cache/status')[1]['hot_cache'] is True
    run = ansible.adhoc('lmcache_engine', declared, '--diff')
    assert run.returncode == 0, run.output
    assert run.result()['after'] == {'hot_cache': False, 'bypassed_backends': ['LocalCPUBackend'],
                                     'config': {'min_retrieve_tokens': 512, 'save_decode_cache': True}}
    assert http_json('GET', alone.url + '/hot_cache/status')[1]['hot_cache'] is False
    assert http_json('GET', alone.url + '/bypass/list')[1]['bypassed_backends'] == ['LocalCPUBackend']
    conf = http_json('GET', alone.url + '/conf?names=min_retrieve_tokens,save_decode_cache')[1]
    assert conf == {'min_retrieve_tokens': 512, 'save_decode_cache': True}
    assert ansible.adhoc('lmcache_engine', declared).result()['changed'] is False
    back = ansible.adhoc('lmcache_engine', {'url': alone.url, 'hot_cache': True, 'bypassed_backends': [],
                                            'config': {'min_retrieve_tokens': 0, 'save_decode_cache': False}})
    assert back.result()['changed'] is True
    assert http_json('GET', alone.url + '/bypass/list')[1]['bypassed_backends'] == []


@pytest.mark.parametrize('declared, problem', [
    ({'config': {'max_local_cpu_size': 5, 'min_retrieve_tokens': 1}},
     'config takes only the keys an LMCache engine reads at runtime'),
    ({'bypassed_backends': ['RemoteBackend']}, 'has no backend RemoteBackend; its backends: LocalCPUBackend'),
    ({}, 'declare at least one of freeze, hot_cache, bypassed_backends, config'),
])
def test_engine_state_refuses_what_it_cannot_do_and_changes_nothing(engines, ansible, declared, problem):
    alone = engines.nodes['alone']
    before = http_json('GET', alone.url + '/conf?names=max_local_cpu_size,min_retrieve_tokens')[1]
    run = ansible.adhoc('lmcache_engine', dict(declared, url=alone.url))
    assert run.returncode != 0 and problem in run.result()['msg']
    assert http_json('GET', alone.url + '/conf?names=max_local_cpu_size,min_retrieve_tokens')[1] == before
    assert http_json('GET', alone.url + '/bypass/list')[1]['bypassed_backends'] == []


@pytest.mark.parametrize('module, args, problem', [
    ('lmcache_quota', {'cache_salt': 't', 'limit_gb': 1}, 'inside vLLM) cannot manage quotas: it has no quota endpoint'),
    ('lmcache_kvcache_prefetch', {'model_name': 'm', 'token_ids': [1] * 300},
     'inside vLLM) cannot prefetch from L2 into L1: it has no prefetch endpoint'),
    ('lmcache_kvcache_info', {'request_id': 'req-1'}, 'inside vLLM)'),
])
def test_the_modules_an_engine_has_no_route_for_fail_saying_so(engines, ansible, module, args, problem):
    run = ansible.adhoc(module, dict(args, url=engines.nodes['alone'].url))
    assert run.returncode != 0 and problem in run.result()['msg'], run.output


def test_an_engine_state_module_on_a_server_says_it_is_no_engine(engines, ansible):
    run = ansible.adhoc('lmcache_engine', {'url': engines.nodes['g3'].url, 'freeze': True})
    assert run.returncode != 0
    assert 'is an LMCache server, not an engine inside vLLM' in run.result()['msg']


def test_the_pod_is_named_once_by_its_scheduler_and_every_worker_is_read_and_cleared(engines, ansible):
    workers = [engines.nodes['w0'], engines.nodes['w1']]
    for worker in workers:
        refill(worker, 1)
    url = engines.scheduler.url
    info = ansible.adhoc('lmcache_server_info', {'url': url}).result()
    assert info['pod'] == {'scheduler': url, 'workers': [workers[0].url, workers[1].url]}
    assert info['healthy'] is True and info['l1']['objects'] == 4 and sorted(info['workers']) == sorted(w.url for w in workers)
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': url})
    result = run.result()
    assert result['changed'] is True and result['before'] == {'objects': 4, 'bytes_used': 4 * CHUNK_BYTES}
    assert result['after'] == {'objects': 0, 'bytes_used': 0} and result['froze_stores'] is True
    assert [worker.l1_objects() for worker in workers] == [0, 0] and [freeze(w) for w in workers] == [False, False]
    assert result['msg'].startswith('Pod of 2 workers at %s: [%s] Cleared 2 objects' % (url, workers[0].url))


FLEET_PLAY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Clear them all
      lmcache.kvcache.lmcache_fanout:
        operation: clear
        endpoints: %s
        batches: ['100%%']
'''


def test_the_fan_out_tells_an_engine_from_a_server_of_the_same_release(engines, ansible):
    alone, g3 = engines.nodes['alone'], engines.nodes['g3']
    refill(alone)
    g3.fill(1)
    # The server first: its discovery is cached by version, and the engine reports the same version.
    run = ansible.playbook(FLEET_PLAY % json.dumps([g3.url, alone.url, engines.scheduler.url]), {})
    assert run.returncode == 0, run.output
    results = run.result('Clear them all')['results']
    assert (results[g3.url]['kind'], results[alone.url]['kind'], results[engines.scheduler.url]['kind']) == \
        ('server', 'engine', 'engine')
    assert results[alone.url]['froze_stores'] is True and results[g3.url]['froze_stores'] is False
    assert alone.l1_objects() == 0 and g3.l1_objects() == 0


WINDOW = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')


@pytest.mark.parametrize('fanout', ['true', 'false'])
def test_the_maintenance_window_clears_engines_with_their_stores_frozen_and_says_so(engines, ansible, tmp_path, fanout):
    alone, g3 = engines.nodes['alone'], engines.nodes['g3']
    refill(alone)
    g3.fill(1)
    hosts = {'engine-a': {'lmcache_url': alone.url}, 'server-a': {'lmcache_url': g3.url},
             'pod-a': {'lmcache_url': engines.scheduler.url}}
    inventory = tmp_path / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'children': {'lmcache': {'hosts': dict(
        (name, dict(variables, ansible_connection='local', ansible_python_interpreter='{{ ansible_playbook_python }}'))
        for name, variables in hosts.items())}}}}))
    run = ansible._run(['ansible-playbook', '-i', str(inventory), WINDOW, '-e', 'lmcache_fanout=%s' % fanout,
                        '-e', 'lmcache_report_dir=%s' % tmp_path])
    assert run.returncode == 0, run.output
    assert alone.l1_objects() == 0 and g3.l1_objects() == 0 and freeze(alone) is False
    assert 'engines: 2; stores were frozen by the window for the clear, and unfrozen after it, on 1' in run.output
    report = json.loads((tmp_path / 'after' / 'lmcache-fleet-report.json').read_text())
    rows = dict((row['host'], row) for row in report['hosts'])
    assert rows['engine-a']['api_generation'] == 'engine' and rows['engine-a']['healthy'] is True
    assert not [o for o in report['outliers'] if 'old API generation' in o['reason']]


def test_the_event_source_watches_an_engine_against_the_watermark_it_is_given(engines):
    from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import FleetState, FleetWatch
    alone = engines.nodes['alone']
    http_json('DELETE', alone.url + '/cache/clear')
    # An engine has no eviction watermark of its own: the source's watermark is the one held against it.
    watch = FleetWatch(dict(retries=0, deadline=10), [alone.url], [], FleetState(watermark=0.002))
    assert watch.poll() == []
    alone.fill(2)
    events = watch.poll()
    assert [e['lmcache']['type'] for e in events] == ['l1_usage_high']
    assert events[0]['lmcache']['objects'] == 4 and events[0]['lmcache']['url'] == alone.url
    http_json('DELETE', alone.url + '/cache/clear')
    assert [e['lmcache']['type'] for e in watch.poll()] == ['l1_usage_normal']
