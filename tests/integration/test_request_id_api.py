# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The request-id paths of every per-request module, against the reference server of the design's API.

No LMCache release offers /kvcache-info, /pin, /compress or /kvcache-clear yet; tests/reference_server implements
the contract in docs/docsite/rst/per_request_api.rst. State is checked through the server's own /kvcache-info.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import free_port, http_json, wait_until_healthy

SERVER = os.path.join(os.path.dirname(__file__), '..', 'reference_server', 'server.py')
KEY = 'ref-secret-key-42'


def start_reference_server(*args):
    port = free_port()
    process = subprocess.Popen([sys.executable, SERVER, '--port', str(port)] + list(args),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = 'http://127.0.0.1:%d' % port
    wait_until_healthy(url + '/healthcheck', process.pid, 'the reference server', timeout=30)
    return process, url


@pytest.fixture(scope='module')
def reference():
    process, url = start_reference_server('--l1-bytes', str(64 * 1024 * 1024), '--reject-above', '0.9')
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def request_id(reference, request):
    """A fresh 4-chunk request, cached in L1 and L2."""
    name = 'req-%s' % request.node.name.replace('[', '-').replace(']', '')[:80]
    assert http_json('POST', reference + '/_test/requests', {'request_id': name, 'num_tokens': 1024})[0] == 200
    http_json('PUT', reference + '/_test/ballast', {'bytes': 0})
    return name


def server_chunks(url, request_id):
    status, body = http_json('GET', '%s/kvcache-info?request_id=%s' % (url, request_id))
    assert status == 200, body
    return body['chunks']


def test_server_info_sees_the_per_request_endpoints(reference, ansible):
    result = ansible.adhoc('lmcache_server_info', {'url': reference}).result()
    assert {'kvcache_info', 'pin', 'compress', 'kvcache_clear'} <= set(result['capabilities'])
    assert result['api_generation'] == 'G3'


def test_info_by_request_id(reference, ansible, request_id):
    run = ansible.adhoc('lmcache_kvcache_info', {'url': reference, 'request_id': request_id, 'start': 0, 'end': 512})
    assert run.returncode == 0, run.output
    result = run.result()
    assert [(c['index'], c['locations'], c['pinned']) for c in result['chunks']] == [(0, ['L1', 'L2'], False), (1, ['L1', 'L2'], False)]
    assert (result['cached_chunks'], result['cached_tokens']) == (2, 512)

    unknown = ansible.adhoc('lmcache_kvcache_info', {'url': reference, 'request_id': 'never-seen'})
    assert unknown.returncode == 0 and unknown.result()['total_chunks'] == 0


def test_pin_by_request_id_is_idempotent_and_reversible(reference, ansible, request_id):
    args = {'url': reference, 'request_id': request_id, 'start': 256}
    check = ansible.adhoc('lmcache_kvcache_pin', args, '--check')
    assert check.result()['changed'] is True
    assert [c['pinned'] for c in server_chunks(reference, request_id)] == [False] * 4

    first = ansible.adhoc('lmcache_kvcache_pin', args)
    assert first.result()['changed'] is True and first.result()['chunks_changed'] == [1, 2, 3]
    assert [c['pinned'] for c in server_chunks(reference, request_id)] == [False, True, True, True]
    assert ansible.adhoc('lmcache_kvcache_pin', args).result()['changed'] is False

    ansible.adhoc('lmcache_kvcache_pin', dict(args, state='absent'))
    assert [c['pinned'] for c in server_chunks(reference, request_id)] == [False] * 4


def test_rejected_pin_is_its_own_outcome(reference, ansible, request_id):
    http_json('PUT', reference + '/_test/ballast', {'bytes': 60 * 1024 * 1024})
    args = {'url': reference, 'request_id': request_id}
    rejected = ansible.adhoc('lmcache_kvcache_pin', args)
    assert rejected.returncode != 0 and rejected.outcome() == 'failed'
    result = rejected.result()
    assert result['rejected'] is True and result['changed'] is False
    assert result['reason'].startswith('L1 memory pressure (')
    assert 'REJECTED' in result['msg']
    tolerated = ansible.adhoc('lmcache_kvcache_pin', dict(args, fail_on_rejected=False))
    assert tolerated.returncode == 0 and tolerated.result()['rejected'] is True
    assert [c['pinned'] for c in server_chunks(reference, request_id)] == [False] * 4


def test_compress_shrinks_the_stored_bytes_once(reference, ansible, request_id):
    args = {'url': reference, 'request_id': request_id, 'method': 'zstd'}
    assert ansible.adhoc('lmcache_kvcache_compress', args, '--check').result()['changed'] is True
    assert [c['compression'] for c in server_chunks(reference, request_id)] == [None] * 4

    run = ansible.adhoc('lmcache_kvcache_compress', args)
    assert run.returncode == 0, run.output
    result = run.result()
    chunks = server_chunks(reference, request_id)
    assert [c['compression'] for c in chunks] == ['zstd'] * 4
    assert result['bytes_before'] == 4 * 1024 * 1024
    assert result['bytes_after'] == sum(c['size_bytes'] for c in chunks) < result['bytes_before'] * 0.7
    assert ansible.adhoc('lmcache_kvcache_compress', args).result()['changed'] is False


def test_unknown_compression_method_is_refused_by_the_server(reference, ansible, request_id):
    run = ansible.adhoc('lmcache_kvcache_compress', {'url': reference, 'request_id': request_id, 'method': 'lz4'})
    assert run.outcome() == 'failed'
    assert run.result()['msg'] == ("POST %s/compress failed: HTTP 400 Bad Request: unsupported compression method 'lz4'; "
                                   'supported: zstd' % reference)
    assert [c['compression'] for c in server_chunks(reference, request_id)] == [None] * 4


def test_method_outside_the_known_ones_fails_before_any_request(reference, ansible, request_id):
    run = ansible.adhoc('lmcache_kvcache_compress', {'url': reference, 'request_id': request_id, 'method': 'gzip9'})
    assert run.outcome() == 'failed' and 'value of method must be one of' in run.result()['msg']


def test_clear_by_request_id_spares_pinned_chunks_unless_forced(reference, ansible, request_id):
    ansible.adhoc('lmcache_kvcache_pin', {'url': reference, 'request_id': request_id, 'start': 768})
    args = {'url': reference, 'request_id': request_id, 'tier': 'l1'}
    run = ansible.adhoc('lmcache_kvcache_clear', args)
    assert run.result()['changed'] is True and run.result()['chunks_changed'] == [0, 1, 2]
    assert [c['locations'] for c in server_chunks(reference, request_id)] == [['L2'], ['L2'], ['L2'], ['L1', 'L2']]
    assert 'still in L1' in run.output

    assert ansible.adhoc('lmcache_kvcache_clear', args).result()['changed'] is False
    forced = ansible.adhoc('lmcache_kvcache_clear', dict(args, tier='all', force=True))
    assert forced.result()['chunks_changed'] == [0, 1, 2, 3]
    assert [c['locations'] for c in server_chunks(reference, request_id)] == [[]] * 4


def test_api_key_is_required_sent_and_never_shown(ansible):
    process, url = start_reference_server('--api-key', KEY, '--request', 'req-auth=512')
    try:
        missing = ansible.adhoc('lmcache_kvcache_info', {'url': url, 'request_id': 'req-auth'})
        assert missing.outcome() == 'failed'
        assert missing.result()['msg'] == ('GET %s/version failed: HTTP 401 Unauthorized: Invalid or missing API key '
                                           '(the server requires a valid API key: set api_key or LMCACHE_API_KEY)' % url)
        keyed = ansible.adhoc('lmcache_kvcache_pin', {'url': url, 'request_id': 'req-auth'}, '-vvv', env={'LMCACHE_API_KEY': KEY})
        assert keyed.returncode == 0, keyed.output
        assert keyed.result()['chunks_changed'] == [0, 1]
        assert KEY not in keyed.output
    finally:
        process.terminate()
        process.wait(timeout=10)
