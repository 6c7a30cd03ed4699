# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_server_info
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import METRICS_TYPE, Answer, status_body


def test_reports_a_healthy_g3_server(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    assert result['changed'] is False
    assert (result['healthy'], result['health_reason']) == (True, None)
    assert (result['api_generation'], result['version'], result['chunk_size']) == ('G3', '0.5.6-g3e11e108', 256)
    assert result['l1'] == {'objects': 4, 'bytes_used': 16777216, 'bytes_total': 1073741824, 'usage_ratio': 0.015625}
    assert result['eviction_watermark'] == 0.8 and result['above_eviction_watermark'] is False
    assert result['active_sessions'] == 1 and result['l2_adapters'] == []
    assert 'version' in result['capabilities'] and 'pin' not in result['capabilities']
    assert [r['method'] for r in fake_server.requests] == ['GET'] * len(fake_server.requests)


def test_flags_usage_above_the_eviction_watermark(fake_server, run_module):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/status', Answer(body=status_body(objects=210)))
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    assert result['l1']['usage_ratio'] > 0.8 and result['above_eviction_watermark'] is True


def test_a_starting_server_is_reported_unhealthy_not_failed(fake_server, run_module, no_sleep):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/healthcheck', Answer(503, {'status': 'unhealthy', 'reason': 'engine not initialized'}))
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    assert 'failed' not in result
    assert (result['healthy'], result['health_reason'], result['status']) == (False, 'engine not initialized', 503)
    assert result['l1'] is None and result['chunk_size'] is None
    assert fake_server.sent('GET', '/status') == [] and no_sleep == []


def test_g1_server_has_no_version(fake_server, run_module):
    fake_server.lmcache('G1', objects=0)
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    assert (result['api_generation'], result['version'], result['capabilities']) == ('G1', None, [])


def test_runs_fully_in_check_mode(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_server_info, {'url': fake_server.url}, check_mode=True)
    assert result['l1']['objects'] == 4 and result['changed'] is False


def test_unreachable_server_fails_naming_the_address(run_module, no_sleep):
    result = run_module(lmcache_server_info, {'url': 'http://127.0.0.1:9', 'retries': 1})
    assert result['failed'] is True
    assert result['msg'] == ('GET http://127.0.0.1:9/version failed: cannot connect to http://127.0.0.1:9 '
                             '(Connection refused) (after 2 attempts)')
    assert result['status'] is None and 'exception' not in result


def test_reports_quotas_adapters_and_prefetch_support(sim, run_module):
    sim.by_name['node-0000'].quotas.update({'tenant-b': 1.0, 'tenant-a': 0.5})
    result = run_module(lmcache_server_info, {'url': sim.url('node-0000')})
    assert result['quotas'] == [{'cache_salt': 'tenant-a', 'limit_gb': 0.5, 'current_usage_gb': 0.0},
                                {'cache_salt': 'tenant-b', 'limit_gb': 1.0, 'current_usage_gb': 0.0}]
    assert result['l2_adapters'] == [{'index': 0, 'type': 'fs', 'tier': 'l2', 'primary': True}]
    assert result['prefetch_supported'] is True and 'object_delete' in result['capabilities']
    assert result['msg'].endswith('is healthy; L1 holds 4 objects (16.00 MB of 1.00 GB).')


def test_null_counts_are_an_error_not_zero(fake_server, run_module):
    body = status_body(4)
    body['storage_manager']['l1_manager']['total_object_count'] = None
    body['storage_manager']['l1_manager']['memory_total_bytes'] = None
    fake_server.lmcache('G3')
    fake_server.on('GET', '/status', Answer(body=body))
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    assert result['failed'] is True
    assert 'cannot read storage_manager.l1_manager.total_object_count from the answer: None (null)' in result['msg']
    assert 'l1' not in result


def test_every_result_field_is_there_on_failure(run_module, no_sleep):
    result = run_module(lmcache_server_info, {'url': 'http://127.0.0.1:9', 'retries': 0})
    assert result['failed'] is True and result['status'] is None
    assert (result['url'], result['api_generation'], result['version']) == ('http://127.0.0.1:9', None, None)
    assert 'cannot connect to http://127.0.0.1:9 (Connection refused)' in result['msg']


# -- cache hits and the exposure audit -------------------------------------------------------------------------------

def bench_metrics():
    import os
    here = os.path.join(os.path.dirname(__file__), '..', 'module_utils', 'fixtures', 'metrics-0.5.6-bench.txt')
    with open(here) as handle:
        return handle.read()


def test_the_cache_hits_are_the_servers_own_counters(fake_server, run_module):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/metrics', Answer(text=bench_metrics(), content_type=METRICS_TYPE))
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    hits = result['hits']
    assert (hits['requested_tokens'], hits['hit_tokens'], hits['hit_tokens_l1'], hits['lookups']) == (2048, 1024, 1024, 4)
    assert (hits['hit_ratio'], hits['l1_hit_share'], hits['l2_hit_share']) == (0.5, 1.0, 0.0)
    assert 'tenants' not in hits and result['unavailable'] == {} and result['warnings'] == []


def test_per_tenant_hits_come_as_a_list_when_asked(fake_server, run_module):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/metrics', Answer(text=bench_metrics(), content_type=METRICS_TYPE))
    result = run_module(lmcache_server_info, {'url': fake_server.url, 'hits_per_tenant': True})
    assert result['hits']['tenants'] == [dict(
        model_name='test-model', cache_salt='', lookups=4, requested_tokens=2048, hit_tokens=1024, hit_tokens_l1=1024,
        hit_tokens_l2=0, hit_keys_l1=4, hit_keys_l2=0, hit_ratio=0.5, l1_hit_share=1.0, l2_hit_share=0.0)]


def test_no_hits_are_read_when_not_asked_and_none_where_there_is_no_metrics_route(fake_server, run_module):
    fake_server.lmcache('G3')
    result = run_module(lmcache_server_info, {'url': fake_server.url, 'hits': False})
    assert result['hits'] is None and fake_server.sent('GET', '/metrics') == []
    fake_server.lmcache('G1')
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    assert result['hits'] is None
    assert 'has no GET /metrics (LMCache 0.5.1 and later)' in result['unavailable']['hits'] and result['warnings'] == []


def test_unreadable_counters_cost_the_hits_field_only(fake_server, run_module):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/metrics', Answer(text='lmcache_mp_lookup_hit_tokens_total{model_name="m"} lots\n',
                                             content_type=METRICS_TYPE))
    result = run_module(lmcache_server_info, {'url': fake_server.url})
    assert 'failed' not in result and result['healthy'] is True and result['hits'] is None
    assert "cannot read the counters: line 1 has the value 'lots', not a number" in result['unavailable']['hits']


def test_the_audit_probes_each_listed_admin_route_once_without_the_key(fake_server, run_module):
    fake_server.lmcache('G3', extra_routes=['/run_script', '/env'])
    for path in ('/run_script', '/env', '/cache/clear', '/loglevel'):
        fake_server.on('PATCH', path, Answer(405, {'detail': 'Method Not Allowed'}))
    fake_server.on('PATCH', '/cache/objects', Answer(401, {'detail': 'Invalid or missing API key'}))
    result = run_module(lmcache_server_info, {'url': fake_server.url, 'audit': True, 'api_key': 'k3y-for-the-task'})
    assert result['exposure'] == dict(exposed=['POST /run_script', 'GET /env', 'GET /loglevel', 'POST /cache/clear'],
                                      protected=['DELETE /cache/objects'],
                                      unclear=['POST /cache/prefetches (HTTP 404 to the probe)'])
    probes = [r for r in fake_server.requests if r['method'] == 'PATCH']
    assert sorted(r['path'] for r in probes) == ['/cache/clear', '/cache/objects', '/cache/prefetches', '/env', '/loglevel',
                                                 '/run_script']
    assert all('authorization' not in dict((k.lower(), v) for k, v in r['headers'].items()) for r in probes)
    assert [r['method'] for r in fake_server.requests if r['method'] not in ('GET', 'PATCH')] == []
