# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The engine inside vLLM against a scripted internal API server: answers it cannot read are errors naming the field,
never a made-up 0; a thread that died makes it unhealthy by name; secrets in its configuration are masked; a clear
that fails still unfreezes the stores; a pod's summary sums its workers and names the ones that failed."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils import _engine
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient, LMCacheError
from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import DiscoveryCache
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_engine import _same
from ansible_collections.lmcache.kvcache.plugins.module_utils._pod import summary
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Context, execute
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import ClearInstance
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import masked_config
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer, FakeServer

ENGINE_ROUTES = {'/version': {'get': {}}, '/meta': {'get': {}}, '/metrics': {'get': {}}, '/conf': {'get': {}, 'post': {}},
                 '/periodic-threads-health': {'get': {}}, '/cache/clear': {'delete': {}}, '/freeze/enable': {'put': {}},
                 '/freeze/disable': {'put': {}}, '/freeze/status': {'get': {}}}
META = {'role': 'worker', 'worker_id': 0, 'world_size': 1, 'local_world_size': 1, 'model_name': 'm', 'chunk_size': 256,
        'kv_shape': [2, 2, 256, 4, 16], 'kv_dtype': 'torch.float16'}


def metrics(objects: int) -> str:
    return 'lmcache:local_cpu_hot_cache_count{model_name="m",worker_id="0"} %d.0\n' % objects


def engine(server, objects=(4, 0), freeze_answers=None):
    server.on('GET', '/openapi.json', Answer(body={'paths': ENGINE_ROUTES}))
    server.on('GET', '/version', Answer(body='0.5.6-g3e11e108'))
    server.on('GET', '/meta', Answer(body=META))
    server.on('GET', '/metrics', *[Answer(text=metrics(n), content_type='text/plain') for n in objects])
    server.on('GET', '/conf', Answer(body={'local_cpu': True, 'max_local_cpu_size': 0.5}))
    server.on('GET', '/periodic-threads-health', Answer(body={'healthy': True, 'unhealthy_count': 0, 'unhealthy_threads': []}))
    server.on('GET', '/freeze/status', Answer(body={'status': 'success', 'freeze': False}))
    server.on('PUT', '/freeze/enable', Answer(body={'status': 'success', 'freeze': True}))
    server.on('DELETE', '/cache/clear', Answer(body={'status': 'success', 'num_removed': 512}))
    server.on('PUT', '/freeze/disable', *(freeze_answers or [Answer(body={'status': 'success', 'freeze': False})]))
    return server


def clear(server, discoveries=None, **params):
    params = dict(dict(url=server.url, force=False, timeout=5.0, retries=0, deadline=30.0, api_key=None, url_vouched=True,
                       validate_certs=True), **params)
    return execute(ClearInstance(params, Context(params, discoveries=discoveries), None))


def scheduler_and_worker():
    """A pod's scheduler and its one worker, on the port after the scheduler's (as vLLM places them)."""
    for _attempt in range(20):
        scheduler = FakeServer()
        try:
            worker = FakeServer(port=int(scheduler.url.rsplit(':', 1)[1]) + 1)
        except OSError:
            scheduler.close()
            continue
        return scheduler, worker
    raise RuntimeError('no two free ports in a row')


def test_the_engine_l1_is_its_objects_times_one_chunk_of_its_kv_shape_in_the_size_its_conf_gives(fake_server):
    status = _engine.status(LMCacheClient(engine(fake_server).url))
    assert status.l1.as_dict() == {'objects': 4, 'bytes_used': 4 * 131072, 'bytes_total': 536870912,
                                   'usage_ratio': 4 * 131072 / 536870912.0}


@pytest.mark.parametrize('answer, problem', [
    ('lmcache:local_cpu_hot_cache_count{a="b"} lots\n', "line 1 has the value 'lots', not a number"),
    ('lmcache:num_hit_tokens_total 1.0\n', 'exports no lmcache:local_cpu_hot_cache_count'),
])
def test_an_l1_count_that_cannot_be_read_is_an_error_naming_it(fake_server, answer, problem):
    engine(fake_server)
    fake_server.on('GET', '/metrics', Answer(text=answer, content_type='text/plain'))
    with pytest.raises(LMCacheError, match=problem):
        _engine.status(LMCacheClient(fake_server.url))


@pytest.mark.parametrize('meta, problem', [
    (dict(META, kv_dtype='torch.complex64'), "cannot tell the size of a chunk from kv_shape"),
    (dict(META, kv_shape=[2, 'x']), 'cannot read kv_shape from the answer'),
    (dict(META, worker_id=-1), 'cannot read worker_id'),
])
def test_a_meta_that_cannot_be_read_is_an_error_naming_the_field(fake_server, meta, problem):
    engine(fake_server)
    fake_server.on('GET', '/meta', Answer(body=meta))
    with pytest.raises(LMCacheError, match=problem):
        _engine.status(LMCacheClient(fake_server.url))


def test_a_periodic_thread_that_died_makes_the_engine_unhealthy_by_name(fake_server):
    fake_server.on('GET', '/periodic-threads-health', Answer(body={'healthy': False, 'unhealthy_count': 2, 'unhealthy_threads': [
        {'name': 'L2-store-thread', 'level': 'high', 'last_run_ago': 95.0, 'interval': 30.0},
        {'name': 'eviction', 'level': 'critical', 'last_run_ago': None, 'interval': 1.0}]}))
    threads = _engine.periodic_threads(LMCacheClient(fake_server.url))
    assert threads == {'healthy': False, 'unhealthy': ['L2-store-thread', 'eviction'], 'late': []}
    assert _engine.threads_reason(threads) == 'periodic threads not active: L2-store-thread, eviction'


def test_a_thread_late_by_milliseconds_is_late_not_stuck(fake_server):
    # LMCache's drain thread runs every 5 ms and counts as not active 15 ms after its last run.
    fake_server.on('GET', '/periodic-threads-health', Answer(body={'healthy': False, 'unhealthy_count': 2, 'unhealthy_threads': [
        {'name': 'DeviceHostFuncDispatcher', 'level': 'high', 'last_run_ago': 0.04, 'interval': 0.005},
        {'name': 'L1-eviction', 'level': 'critical', 'last_run_ago': 0.2, 'interval': 0.05}]}))
    threads = _engine.periodic_threads(LMCacheClient(fake_server.url))
    assert threads == {'healthy': True, 'unhealthy': [], 'late': ['DeviceHostFuncDispatcher', 'L1-eviction']}
    assert _engine.threads_reason(threads) is None


def test_a_late_thread_beside_a_stuck_one_leaves_the_node_unhealthy(fake_server):
    fake_server.on('GET', '/periodic-threads-health', Answer(body={'healthy': False, 'unhealthy_count': 2, 'unhealthy_threads': [
        {'name': 'DeviceHostFuncDispatcher', 'level': 'high', 'last_run_ago': 0.04, 'interval': 0.005},
        {'name': 'L2-store-thread', 'level': 'high', 'last_run_ago': 1.0, 'interval': 0.1}]}))
    threads = _engine.periodic_threads(LMCacheClient(fake_server.url))
    assert threads == {'healthy': False, 'unhealthy': ['L2-store-thread'], 'late': ['DeviceHostFuncDispatcher']}


def test_a_node_that_says_it_is_unhealthy_without_naming_a_thread_stays_unhealthy(fake_server):
    fake_server.on('GET', '/periodic-threads-health', Answer(body={'healthy': False, 'unhealthy_count': 1, 'unhealthy_threads': []}))
    threads = _engine.periodic_threads(LMCacheClient(fake_server.url))
    assert threads == {'healthy': False, 'unhealthy': [], 'late': []}
    assert _engine.threads_reason(threads) == 'periodic threads not active: none named'


@pytest.mark.parametrize('ago', ['0.1', -1, True, float('inf')])
def test_a_last_run_that_is_not_a_time_is_an_error_that_names_it(fake_server, ago):
    fake_server.on('GET', '/periodic-threads-health', Answer(body={'healthy': False, 'unhealthy_count': 1, 'unhealthy_threads': [
        {'name': 'eviction', 'level': 'critical', 'last_run_ago': ago, 'interval': 1.0}]}))
    with pytest.raises(LMCacheError, match=r'unhealthy_threads\[0\]\.last_run_ago'):
        _engine.periodic_threads(LMCacheClient(fake_server.url))


def test_a_clear_freezes_the_stores_and_unfreezes_them_after(fake_server):
    result = clear(engine(fake_server))
    assert result['changed'] is True and result['froze_stores'] is True and result['objects_cleared'] == 4
    order = [(r['method'], r['path']) for r in fake_server.requests if r['method'] != 'GET']
    assert order == [('PUT', '/freeze/enable'), ('DELETE', '/cache/clear'), ('PUT', '/freeze/disable')]


def test_a_clear_that_fails_still_unfreezes_the_stores_and_says_so(fake_server):
    engine(fake_server)
    fake_server.on('DELETE', '/cache/clear', Answer(500, {'status': 'error', 'message': 'engine busy'}))
    result = clear(fake_server)
    assert result['failed'] is True and 'DELETE %s/cache/clear failed: HTTP 500' % fake_server.url in result['msg']
    assert fake_server.sent('PUT', '/freeze/disable')


def test_a_failed_unfreeze_after_a_clear_says_the_stores_are_still_frozen(fake_server):
    engine(fake_server, freeze_answers=[Answer(500, {'status': 'error', 'message': 'no'})])
    result = clear(fake_server)
    assert result['failed'] is True and 'stores are still frozen on %s' % fake_server.url in result['msg']
    assert 'lmcache.kvcache.lmcache_engine (freeze: false)' in result['msg']


def test_configuration_secrets_are_masked_at_any_depth_and_counts_of_tokens_are_not():
    assert masked_config({'min_retrieve_tokens': 512, 'remote_url': 'redis://user:pw@10.0.0.9:6379',
                          'extra_config': {'s3_secret_access_key': 'abc', 'auth_token': 't', 'endpoint': 'https://a:b@s3'},
                          'api_key_files': ['/etc/lmcache/key'], 'apiKey': 'k'}) == {
        'min_retrieve_tokens': 512, 'remote_url': 'redis://***@10.0.0.9:6379',
        'extra_config': {'s3_secret_access_key': '********', 'auth_token': '********', 'endpoint': 'https://***@s3'},
        'api_key_files': ['/etc/lmcache/key'], 'apiKey': '********'}


@pytest.mark.parametrize('current, wanted, same', [
    (512, '512', True), (512, 512.0, True), (True, 'true', True), (False, True, False), (None, 0, False), ('a', 'a', True),
])
def test_a_declared_value_is_compared_as_the_engine_holds_it(current, wanted, same):
    assert _same(current, wanted) is same


def test_a_pods_summary_sums_its_workers_and_names_the_ones_that_failed():
    results = {'http://h:8001': {'changed': True, 'before': {'objects': 2, 'bytes_used': 8}, 'after': {'objects': 0, 'bytes_used': 0},
                                 'objects_cleared': 2, 'bytes_cleared': 8, 'msg': 'Cleared 2', 'kind': 'engine'},
               'http://h:8002': {'failed': True, 'changed': False, 'msg': 'GET http://h:8002/metrics failed', 'kind': 'engine'}}
    pod = summary('http://h:8000', results)
    assert pod['failed'] is True and pod['changed'] is True and 'before' not in pod
    assert pod['msg'].startswith('1 of 2 workers of the pod at http://h:8000 failed (http://h:8002)')
    assert pod['pod'] == {'scheduler': 'http://h:8000', 'workers': ['http://h:8001', 'http://h:8002']}


def test_a_pods_scheduler_taken_for_a_server_of_its_release_by_the_fan_outs_cache_still_clears_its_workers(fake_server):
    # The fan-out's cache holds the discovery of a server of the release first: the scheduler reports the same version.
    discoveries = DiscoveryCache()
    assert clear(fake_server.lmcache('G3'), discoveries)['changed'] is True
    scheduler, worker = scheduler_and_worker()
    try:
        engine(worker)
        engine(scheduler)
        scheduler.on('GET', '/meta', Answer(body=dict(META, role='scheduler', worker_id=None)))
        result = clear(scheduler, discoveries)
        assert not result.get('failed'), result['msg']
        assert result['pod']['workers'] == [worker.url] and result['changed'] is True
        assert len(worker.sent('DELETE', '/cache/clear')) == 1 and scheduler.sent('DELETE', '/cache/clear') == []
        # Taken for a server, the scheduler answered 404 to a server's route, then was discovered on its own.
        assert scheduler.sent('GET', '/openapi.json') and scheduler.sent('GET', '/meta')
    finally:
        scheduler.close()
        worker.close()
