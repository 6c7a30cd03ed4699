# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import parse_version
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import parse_status
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient, LMCacheError, LMCacheHTTPError, Reply
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer

REFERENCE = os.path.join(os.path.dirname(__file__), 'fixtures')


def server_for(fake_server, **options):
    return LMCacheServer(LMCacheClient(fake_server.url, **options))


@pytest.mark.parametrize('generation, health, status, clear', [
    ('G1', '/api/healthcheck', '/api/status', '/api/clear-cache'),
    ('G2', '/healthcheck', '/status', '/clear-cache'),
    ('G3', '/healthcheck', '/status', '/cache/clear'),
])
def test_generation_is_discovered_from_openapi(fake_server, generation, health, status, clear):
    fake_server.lmcache(generation)
    server = server_for(fake_server)
    assert server.generation.name == generation
    assert (server.generation.health, server.generation.status, server.generation.clear) == (health, status, clear)
    assert server.discovery.source == 'openapi'


def test_discovery_happens_once_per_run(fake_server):
    fake_server.lmcache('G3')
    server = server_for(fake_server)
    server.status()
    server.health()
    server.clear_l1(force=False)
    assert len(fake_server.sent('GET', '/openapi.json')) == 1


def test_capabilities_come_from_the_route_list(fake_server):
    fake_server.lmcache('G3', extra_routes=['/kvcache-info', '/pin', '/compress'])
    server = server_for(fake_server)
    assert server.discovery.capabilities == ['compress', 'config', 'kvcache_info', 'l2_adapters', 'l2_objects', 'loglevel',
                                             'metrics', 'object_delete', 'periodic_threads', 'pin', 'prefetch', 'quota',
                                             'version']


def test_a_capability_needs_its_method_not_only_its_path(fake_server):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/openapi.json', Answer(body={'paths': {'/cache/clear': {'post': {}}, '/cache/objects': {'get': {}},
                                                                  '/pin': {'get': {}}}}))
    capabilities = server_for(fake_server).discovery.capabilities
    assert 'l2_objects' in capabilities and 'object_delete' not in capabilities and 'pin' not in capabilities


def test_g1_has_no_optional_endpoints_and_no_version(fake_server):
    fake_server.lmcache('G1')
    server = server_for(fake_server)
    assert server.discovery.capabilities == []
    assert server.version is None
    # Asked once (404 on G1), before the route list.
    assert len(fake_server.sent('GET', '/version')) == 1 and fake_server.requests[0]['path'] == '/version'


def test_a_fleet_of_one_release_is_discovered_once(fake_server):
    from ansible_collections.lmcache.kvcache.plugins.module_utils._server import DiscoveryCache
    fake_server.lmcache('G3')
    cache = DiscoveryCache()
    for _attempt in range(3):
        assert LMCacheServer(LMCacheClient(fake_server.url), cache).generation.name == 'G3'
    assert len(fake_server.sent('GET', '/openapi.json')) == 1 and len(fake_server.sent('GET', '/version')) == 3


@pytest.mark.parametrize('openapi_answer', [
    Answer(404, {'detail': 'Not Found'}),
    Answer(200, text='<html>docs disabled</html>', content_type='text/html'),
    Answer(200, {'something': 'else'}),
])
@pytest.mark.parametrize('generation, clear', [('G1', '/api/clear-cache'), ('G2', '/clear-cache'), ('G3', '/cache/clear')])
def test_fallback_probes_the_clear_routes_without_clearing(fake_server, openapi_answer, generation, clear):
    fake_server.on('GET', '/openapi.json', openapi_answer)
    fake_server.on('GET', clear, Answer(405, {'detail': 'Method Not Allowed'}))
    server = server_for(fake_server)
    assert server.generation.name == generation
    assert server.discovery.source == 'probe'
    assert [r for r in fake_server.requests if r['method'] != 'GET'] == []


def test_openapi_401_means_a_key_is_needed(fake_server):
    fake_server.on('GET', '/openapi.json', Answer(401, {'detail': 'Invalid or missing API key'}))
    with pytest.raises(LMCacheHTTPError) as caught:
        server_for(fake_server).generation
    assert caught.value.status == 401
    assert 'GET %s/openapi.json failed: HTTP 401 Unauthorized: Invalid or missing API key' % fake_server.url in str(caught.value)
    assert 'api_key' in str(caught.value)


def test_api_key_reaches_discovery(fake_server):
    fake_server.lmcache('G3')
    server_for(fake_server, api_key='k1').generation
    assert fake_server.sent('GET', '/openapi.json')[0]['headers']['Authorization'] == 'Bearer k1'


def test_an_api_without_lmcache_routes_is_named(fake_server):
    fake_server.on('GET', '/openapi.json', Answer(200, {'paths': {'/users': {}, '/items': {}}}))
    with pytest.raises(LMCacheError) as caught:
        server_for(fake_server).generation
    assert str(caught.value) == ('%s does not look like an LMCache server or engine: its /openapi.json lists none of the '
                                 'clear routes POST /cache/clear, POST /clear-cache, POST /api/clear-cache, DELETE /cache/clear'
                                 % fake_server.url)


def test_a_non_lmcache_server_is_named(fake_server):
    fake_server.on('GET', '/openapi.json', Answer(404, text='<html><title>Error response</title></html>', content_type='text/html'))
    with pytest.raises(LMCacheError) as caught:
        server_for(fake_server).generation
    assert str(caught.value) == ('%s does not look like an LMCache server or engine: GET %s/openapi.json answered HTTP 404 '
                                 '(Error response), and none of POST /cache/clear, POST /clear-cache, POST /api/clear-cache, '
                                 'DELETE /cache/clear exists there' % (fake_server.url, fake_server.url))


def test_unhealthy_server_is_an_answer(fake_server):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/healthcheck', Answer(503, {'status': 'unhealthy', 'reason': 'engine not initialized'}))
    health = server_for(fake_server).health()
    assert (health.healthy, health.reason) == (False, 'engine not initialized')
    assert len(fake_server.sent('GET', '/healthcheck')) == 1


@pytest.mark.parametrize('version, expected', [
    ('0.5.6-g3e11e108', True), ('0.5.7rc3', True), ('0.5.5-gabc', False), ('0.5.1', False), (None, False),
])
def test_force_is_honoured_from_0_5_6_on(fake_server, version, expected):
    fake_server.lmcache('G3', version=version or 'garbage')
    assert server_for(fake_server).force_honoured is expected


def test_g2_never_honours_force(fake_server):
    fake_server.lmcache('G2', version='0.5.0-g389b9cfc')
    assert server_for(fake_server).force_honoured is False


@pytest.mark.parametrize('generation, body', [('G1', None), ('G2', None), ('G3', {'tier': 'l1', 'force': True})])
def test_clear_sends_the_generations_request(fake_server, generation, body):
    fake_server.lmcache(generation)
    server_for(fake_server).clear_l1(force=True)
    clear = server_for(fake_server).generation.clear
    assert [r['body'] for r in fake_server.sent('POST', clear)] == [body]


def test_clear_answered_with_an_error_status_field_fails(fake_server):
    fake_server.lmcache('G1')
    fake_server.on('POST', '/api/clear-cache', Answer(200, {'status': 'error', 'reason': 'engine not initialized'}))
    with pytest.raises(LMCacheError, match='engine not initialized'):
        server_for(fake_server).clear_l1(force=False)


def reply_of(body):
    return Reply('GET', 'http://h:8080/status', 200, 'OK', {}, json.dumps(body).encode())


def fixture(name):
    with open(os.path.join(REFERENCE, name)) as handle:
        return json.load(handle)


@pytest.mark.parametrize('name, objects, used, total, ratio', [
    ('status-044-empty.json', 0, 0, 268435456, 0.0),
    ('status-050-populated.json', 4, 16777216, 268435456, 0.0625),
    ('status-populated.json', 4, 16777216, 1073741824, 0.015625),
    ('status-l2fs.json', 0, 0, 268435456, 0.0),
])
def test_status_of_real_servers_is_read_alike(name, objects, used, total, ratio):
    status = parse_status(reply_of(fixture(name)))
    assert (status.l1.objects, status.l1.bytes_used, status.l1.bytes_total, status.l1.usage_ratio) == (objects, used, total, ratio)
    assert status.chunk_size == 256 and status.eviction_watermark == 0.8 and status.active_sessions == 0
    assert status.l1.locked_objects == 0


def test_status_l2_adapters_are_reported():
    status = parse_status(reply_of(fixture('status-l2fs.json')))
    assert [a['type'] for a in status.l2_adapters] == ['FSL2Adapter']


def test_status_without_l1_manager_sums_the_backends():
    l1 = {'total_object_count': 3, 'memory_used_bytes': 30, 'memory_total_bytes': 100}
    status = parse_status(reply_of({'storage_manager': {'l1_managers': {'a': l1, 'b': l1}}}))
    assert (status.l1.objects, status.l1.bytes_used, status.l1.bytes_total, status.l1.usage_ratio) == (6, 60, 200, 0.3)


def populated(**changes):
    """A real populated 0.5.6 /status, with some of its L1 fields changed (None: removed)."""
    body = fixture('status-populated.json')
    l1 = body['storage_manager']['l1_manager']
    for name, value in changes.items():
        if value is None:
            l1.pop(name, None)
        else:
            l1[name] = value
    return body


@pytest.mark.parametrize('body, problem', [
    (populated(total_object_count='4'),
     "storage_manager.l1_manager.total_object_count from the answer: '4' (a string), expected a whole number of 0 or more"),
    (populated(total_object_count=None), 'storage_manager.l1_manager.total_object_count from the answer: missing'),
    (populated(total_object_count=-4), 'storage_manager.l1_manager.total_object_count from the answer: -4 (a number)'),
    (populated(total_object_count=True), 'storage_manager.l1_manager.total_object_count from the answer: True (a boolean)'),
    (populated(total_object_count=2.5), 'storage_manager.l1_manager.total_object_count from the answer: 2.5 (a number)'),
    (populated(memory_used_bytes='16777216'), 'storage_manager.l1_manager.memory_used_bytes'),
    (populated(memory_total_bytes=None), 'storage_manager.l1_manager.memory_total_bytes from the answer: missing'),
    (populated(memory_used_bytes=2 ** 40), 'expected at most memory_total_bytes (1073741824)'),
    (populated(read_locked_count='1'), 'storage_manager.l1_manager.read_locked_count'),
    ({'chunk_size': 256, 'storage_manager': {}}, 'storage_manager.l1_manager from the answer'),
    ({'chunk_size': 256}, 'storage_manager.l1_manager'),
    ({'storage_manager': {'l1_managers': {}}}, 'storage_manager.l1_managers from the answer: {} (an object), expected at least one'),
    (dict(populated(), chunk_size='256'), "chunk_size from the answer: '256' (a string)"),
    (dict(populated(), active_sessions=-1), 'active_sessions from the answer: -1'),
])
def test_a_status_that_cannot_be_read_is_an_error_naming_the_field(body, problem):
    with pytest.raises(LMCacheError) as caught:
        parse_status(reply_of(body))
    assert problem in str(caught.value) and str(caught.value).startswith('GET http://h:8080/status: cannot read ')


def test_a_null_l1_manager_falls_back_to_the_backends_or_fails():
    body = populated()
    body['storage_manager']['l1_manager'] = None
    assert parse_status(reply_of(body)).l1.objects == 4
    del body['storage_manager']['l1_managers']
    with pytest.raises(LMCacheError, match='storage_manager.l1_manager from the answer: None \\(null\\), expected an object'):
        parse_status(reply_of(body))


def test_optional_fields_may_be_absent_but_not_wrong():
    body = populated()
    del body['chunk_size']
    del body['storage_manager']['l1_eviction_controller']
    status = parse_status(reply_of(body))
    assert status.chunk_size is None and status.eviction_watermark is None
    body['storage_manager']['l1_eviction_controller'] = {'trigger_watermark': 'high'}
    with pytest.raises(LMCacheError, match='trigger_watermark'):
        parse_status(reply_of(body))


def test_a_version_that_is_not_a_string_is_an_error(fake_server):
    fake_server.lmcache('G3')
    fake_server.on('GET', '/version', Answer(200, {'version': '0.5.6'}))
    with pytest.raises(LMCacheError, match="GET .*/version: cannot read the version from the answer: .* expected a version string"):
        server_for(fake_server).version


def test_parse_version():
    assert parse_version('0.5.6-g3e11e108') == (0, 5, 6)
    assert parse_version('0.5.7rc3.dev0-gbf85b41fa') == (0, 5, 7)
    assert parse_version('v0.4.4') == (0, 4, 4)
    assert parse_version('nightly') is None
