# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_kvcache_compress
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer


def chunks(compression):
    return {'chunks': [{'index': i, 'start': i * 256, 'end': (i + 1) * 256, 'locations': ['L1'], 'pinned': False,
                        'compression': compression, 'size_bytes': 4194304 if compression is None else 1048576}
                       for i in range(2)]}


def design_server(fake_server, before, after):
    fake_server.lmcache('G3', extra_routes=['/kvcache-info', '/compress'])
    fake_server.on('GET', '/kvcache-info', Answer(body=chunks(before)), Answer(body=chunks(after)))
    fake_server.on('POST', '/compress', Answer(body={'status': 'OK', 'chunks_compressed': 2}))


def test_compresses_and_reports_the_bytes(fake_server, run_module):
    design_server(fake_server, None, 'zstd')
    result = run_module(lmcache_kvcache_compress, {'url': fake_server.url, 'request_id': 'req-1', 'method': 'zstd'}, diff=True)
    assert result['changed'] is True and result['chunks_changed'] == [0, 1]
    assert (result['bytes_before'], result['bytes_after']) == (8388608, 2097152)
    assert fake_server.sent('POST', '/compress')[0]['body'] == {'request_id': 'req-1', 'method': 'zstd'}
    assert result['diff']['after']['0:256'] == {'compression': 'zstd', 'size_bytes': 1048576}


def test_already_compressed_is_no_change_and_check_mode_sends_nothing(fake_server, run_module):
    design_server(fake_server, 'zstd', 'zstd')
    assert run_module(lmcache_kvcache_compress, {'url': fake_server.url, 'request_id': 'req-1', 'method': 'zstd'})['changed'] is False
    design_server(fake_server, None, None)
    result = run_module(lmcache_kvcache_compress, {'url': fake_server.url, 'request_id': 'req-1', 'method': 'zstd'}, check_mode=True)
    assert result['changed'] is True and fake_server.sent('POST', '/compress') == []


def test_real_releases_cannot_compress_and_say_so(sim, run_module):
    result = run_module(lmcache_kvcache_compress, {'url': sim.url('node-0000'), 'coordinator_url': sim.coordinator_url,
                                                   'token_ids': [1] * 512, 'model_name': 'test-model', 'method': 'zstd'})
    assert result['failed'] is True and 'no LMCache release compresses KV cache on demand' in result['msg']
    assert '(LMCache 0.5.6-g3e11e108, API G3)' in result['msg']
