# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_kvcache_clear
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer, status_body

MB4 = 4194304


def test_clears_a_populated_g3_server(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is True
    assert (result['objects_cleared'], result['bytes_cleared']) == (4, 4 * MB4)
    assert result['before'] == {'objects': 4, 'bytes_used': 4 * MB4}
    assert result['after'] == {'objects': 0, 'bytes_used': 0}
    assert (result['api_generation'], result['version'], result['status']) == ('G3', '0.5.6-g3e11e108', 200)
    assert result['forced'] is False
    assert [r['body'] for r in fake_server.sent('POST', '/cache/clear')] == [{'tier': 'l1', 'force': False}]
    assert result['msg'] == ('Cleared 4 objects (16.00 MB) from L1 of %s (LMCache 0.5.6-g3e11e108, API G3).' % fake_server.url)


def test_force_is_sent_to_g3(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url, 'force': True})
    assert result['forced'] is True
    assert fake_server.sent('POST', '/cache/clear')[0]['body'] == {'tier': 'l1', 'force': True}


def test_empty_cache_is_not_cleared_and_not_changed(fake_server, run_module):
    fake_server.lmcache('G3', objects=0)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is False and result['objects_cleared'] == 0
    assert fake_server.sent('POST', '/cache/clear') == []
    assert result['msg'].endswith('is already empty.')


def test_check_mode_sends_no_clear_and_says_what_would_go(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url}, check_mode=True, diff=True)
    assert result['changed'] is True and result['objects_cleared'] == 4
    assert fake_server.sent('POST', '/cache/clear') == []
    assert result['msg'].startswith('Would clear 4 objects')
    assert result['diff'] == {'before': {'l1': {'objects': 4, 'bytes_used': 4 * MB4}},
                              'after': {'l1': {'objects': 0, 'bytes_used': 0}}}


def test_check_mode_on_an_empty_cache_is_unchanged(fake_server, run_module):
    fake_server.lmcache('G3', objects=0)
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url}, check_mode=True)
    assert result['changed'] is False


def test_no_diff_unless_asked(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    assert 'diff' not in run_module(lmcache_kvcache_clear, {'url': fake_server.url})


@pytest.mark.parametrize('generation, version, clear', [
    ('G1', None, '/api/clear-cache'), ('G2', '0.5.0-g389b9cfc', '/clear-cache'), ('G3', '0.5.3-gabc', '/cache/clear'),
])
def test_older_servers_always_force_and_say_so(fake_server, run_module, generation, version, clear):
    fake_server.lmcache(generation, objects=2, version=version or '')
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is True and result['forced'] is True and result['objects_cleared'] == 2
    assert 'always force-clears' in result['msg']
    assert len(fake_server.sent('POST', clear)) == 1


def test_objects_left_after_a_non_forced_clear_are_warned_about(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    fake_server.on('GET', '/status', Answer(body=status_body(4)), Answer(body=status_body(1)))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['objects_cleared'] == 3 and result['after']['objects'] == 1
    assert any('1 object(s) still in L1' in w and 'force=true' in w for w in result['warnings'])


def test_a_clear_that_removed_nothing_is_not_a_change(fake_server, run_module):
    fake_server.lmcache('G3', objects=2)
    fake_server.on('GET', '/status', Answer(body=status_body(2)))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['changed'] is False and result['objects_cleared'] == 0


def test_server_error_on_clear_fails_with_its_text(fake_server, run_module):
    fake_server.lmcache('G3', objects=4)
    fake_server.on('POST', '/cache/clear', Answer(400, {'detail': "tier 'l2' not supported; only 'l1'"}))
    result = run_module(lmcache_kvcache_clear, {'url': fake_server.url})
    assert result['failed'] is True
    assert result['msg'] == ("POST %s/cache/clear failed: HTTP 400 Bad Request: tier 'l2' not supported; only 'l1'"
                             % fake_server.url)
    assert (result['status'], result['api_generation'], result['url']) == (400, 'G3', fake_server.url)
    assert 'exception' not in result


@pytest.mark.parametrize('args, message', [
    ({'url': '127.0.0.1:8080'}, "url must be an http:// or https:// URL with a host, got '127.0.0.1:8080'"),
    ({'url': 'http://'}, "url must be an http:// or https:// URL with a host, got 'http://'"),
    ({'url': 'ftp://host'}, "url must be an http:// or https:// URL with a host, got 'ftp://host'"),
    ({'url': 'http://h:99999'}, "url has an invalid port: 'http://h:99999'"),
    ({'timeout': 0}, 'timeout must be greater than 0 seconds, got 0.0'),
    ({'timeout': -1}, 'timeout must be greater than 0 seconds, got -1.0'),
    ({'retries': -1}, 'retries must be 0 or more, got -1'),
    ({'ca_path': '/nonexistent/ca.pem'}, 'ca_path /nonexistent/ca.pem does not exist or is not a file'),
    ({'client_key': '/tmp/key.pem'}, 'missing parameter(s) required by \'client_key\': client_cert'),
])
def test_bad_input_fails_before_any_request(fake_server, run_module, args, message):
    fake_server.lmcache('G3', objects=4)
    result = run_module(lmcache_kvcache_clear, dict({'url': fake_server.url}, **args))
    assert result['failed'] is True
    assert message in result['msg']
    assert fake_server.requests == []


def test_url_and_api_key_come_from_the_environment(fake_server, run_module, monkeypatch):
    fake_server.lmcache('G3', objects=0)
    monkeypatch.setenv('LMCACHE_URL', fake_server.url)
    monkeypatch.setenv('LMCACHE_API_KEY', 'env-key')
    result = run_module(lmcache_kvcache_clear, {})
    assert result['url'] == fake_server.url
    assert all(r['headers']['Authorization'] == 'Bearer env-key' for r in fake_server.requests)
    assert 'env-key' not in str(result)
