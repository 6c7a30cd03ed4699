# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import email.utils
import time

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    BACKOFF_MAX_SECONDS,
    RETRY_AFTER_MAX_SECONDS,
    LMCacheClient,
    LMCacheError,
    LMCacheHTTPError,
    backoff_seconds,
    redact_url,
)
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer


def client_for(server, **options):
    warnings = []
    client = LMCacheClient(server.url, warn=warnings.append, **options)
    return client, warnings


@pytest.mark.parametrize('status', [429, 502, 503, 504])
def test_retries_retryable_statuses_then_succeeds(fake_server, no_sleep, status):
    fake_server.on('GET', '/status', Answer(status, {'detail': 'busy'}), Answer(status, {'detail': 'busy'}), Answer(200, {'ok': 1}))
    client, warnings = client_for(fake_server, retries=3)
    assert client.request('GET', '/status').body == {'ok': 1}
    assert len(fake_server.sent('GET', '/status')) == 3
    assert len(no_sleep) == 2 and len(warnings) == 2
    assert 'HTTP %d' % status in warnings[0] and 'retry 1 of 3' in warnings[0]


def test_backoff_grows_exponentially_with_jitter(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(503, {'detail': 'busy'}))
    client, _warnings = client_for(fake_server, retries=4)
    with pytest.raises(LMCacheHTTPError):
        client.request('GET', '/status')
    assert len(no_sleep) == 4
    for attempt, delay in enumerate(no_sleep, start=1):
        ceiling = 0.5 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_is_capped():
    assert backoff_seconds(30) <= BACKOFF_MAX_SECONDS


def test_gives_up_after_retries_with_the_last_server_text(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(503, {'status': 'unhealthy', 'reason': 'engine not initialized'}))
    client, _warnings = client_for(fake_server, retries=2)
    with pytest.raises(LMCacheHTTPError) as caught:
        client.request('GET', '/status')
    assert caught.value.status == 503
    assert str(caught.value) == ('GET %s/status failed: HTTP 503 Service Unavailable: engine not initialized (after 3 attempts)'
                                 % fake_server.url)
    assert len(fake_server.sent('GET', '/status')) == 3


def test_retries_zero_sends_once(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(503, {'detail': 'busy'}))
    client, _warnings = client_for(fake_server, retries=0)
    with pytest.raises(LMCacheHTTPError):
        client.request('GET', '/status')
    assert len(fake_server.sent('GET', '/status')) == 1 and no_sleep == []


@pytest.mark.parametrize('status', [400, 401, 403, 404, 405, 409, 422, 500])
def test_never_retries_other_errors(fake_server, no_sleep, status):
    fake_server.on('POST', '/cache/clear', Answer(status, {'detail': 'no'}))
    client, warnings = client_for(fake_server, retries=5)
    with pytest.raises(LMCacheHTTPError):
        client.request('POST', '/cache/clear', json_body={'tier': 'l1'})
    assert len(fake_server.sent('POST', '/cache/clear')) == 1
    assert no_sleep == [] and warnings == []


def test_honours_retry_after_seconds(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(429, {'detail': 'slow down'}, headers={'Retry-After': '7'}), Answer(200, {}))
    client, warnings = client_for(fake_server)
    client.request('GET', '/status')
    assert no_sleep == [7.0]
    assert 'in 7.0s' in warnings[0]


def test_honours_retry_after_http_date(fake_server, no_sleep):
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    fake_server.on('GET', '/status', Answer(503, {}, headers={'Retry-After': when}), Answer(200, {}))
    client, _warnings = client_for(fake_server)
    client.request('GET', '/status')
    assert 15 <= no_sleep[0] <= 20


def test_caps_a_huge_retry_after(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(503, {}, headers={'Retry-After': '86400'}), Answer(200, {}))
    client, _warnings = client_for(fake_server)
    client.request('GET', '/status')
    assert no_sleep == [RETRY_AFTER_MAX_SECONDS]


def test_accepted_status_is_an_answer_not_retried(fake_server, no_sleep):
    fake_server.on('GET', '/healthcheck', Answer(503, {'status': 'unhealthy', 'reason': 'engine not initialized'}))
    client, _warnings = client_for(fake_server)
    reply = client.request('GET', '/healthcheck', accept=(503,))
    assert reply.status == 503 and reply.body['reason'] == 'engine not initialized'
    assert len(fake_server.sent('GET', '/healthcheck')) == 1


def test_connection_refused_names_the_address_and_retries(no_sleep):
    client = LMCacheClient('http://127.0.0.1:9', retries=2)
    with pytest.raises(LMCacheError) as caught:
        client.request('GET', '/status')
    assert str(caught.value) == ('GET http://127.0.0.1:9/status failed: cannot connect to http://127.0.0.1:9 '
                                 '(Connection refused) (after 3 attempts)')
    assert len(no_sleep) == 2


def test_timeout_is_reported(fake_server, no_sleep, monkeypatch):
    import requests

    def slow(*args, **kwargs):
        raise requests.exceptions.ReadTimeout('read timed out')
    client, _warnings = client_for(fake_server, retries=1, timeout=2.5)
    monkeypatch.setattr(client.session, 'request', slow)
    with pytest.raises(LMCacheError, match=r'GET .*/status failed: no answer within 2.5s \(timeout\) \(after 2 attempts\)'):
        client.request('GET', '/status')


def test_redirect_on_a_write_is_an_error(fake_server, no_sleep):
    fake_server.on('POST', '/cache/clear', Answer(307, {}, headers={'Location': 'http://elsewhere.invalid/cache/clear'}))
    client, _warnings = client_for(fake_server)
    with pytest.raises(LMCacheHTTPError) as caught:
        client.request('POST', '/cache/clear', json_body={'tier': 'l1'})
    message = str(caught.value)
    assert message.startswith('POST %s/cache/clear failed: HTTP 307' % fake_server.url)
    assert 'redirects to http://elsewhere.invalid/cache/clear; the request was not carried out' in message
    assert caught.value.status == 307


def test_redirect_on_a_read_is_followed(fake_server, no_sleep):
    fake_server.on('GET', '/old/status', Answer(301, {}, headers={'Location': fake_server.url + '/status'}))
    fake_server.on('GET', '/status', Answer(200, {'ok': True}))
    client, _warnings = client_for(fake_server)
    assert client.request('GET', '/old/status').body == {'ok': True}


@pytest.mark.parametrize('body, text', [
    ({'detail': "tier 'l2' not supported; only 'l1'"}, "tier 'l2' not supported; only 'l1'"),
    ({'detail': [{'type': 'enum', 'loc': ['body', 'tier'], 'msg': "Input should be 'l1', 'l2' or 'all'"}]},
     "body.tier: Input should be 'l1', 'l2' or 'all'"),
    ({'error': 'engine not initialized'}, 'engine not initialized'),
    ({'message': 'quota exceeded'}, 'quota exceeded'),
    ({'status': 'error', 'reason': 'engine not initialized'}, 'engine not initialized'),
    ('plain string body', 'plain string body'),
])
def test_error_text_is_the_servers_own(fake_server, no_sleep, body, text):
    fake_server.on('POST', '/cache/clear', Answer(400, body))
    client, _warnings = client_for(fake_server)
    with pytest.raises(LMCacheHTTPError) as caught:
        client.request('POST', '/cache/clear', json_body={})
    assert str(caught.value) == 'POST %s/cache/clear failed: HTTP 400 Bad Request: %s' % (fake_server.url, text)


def test_html_error_body_is_reported_by_its_title(fake_server, no_sleep):
    page = '<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>nginx</p></body></html>'
    fake_server.on('GET', '/status', Answer(502, text=page, content_type='text/html'))
    client, _warnings = client_for(fake_server, retries=0)
    with pytest.raises(LMCacheHTTPError, match=r'HTTP 502 Bad Gateway: 502 Bad Gateway$'):
        client.request('GET', '/status')


def test_non_json_success_body_is_a_clear_error(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(200, text='<html><body>Welcome to nginx!</body></html>', content_type='text/html'))
    client, _warnings = client_for(fake_server)
    with pytest.raises(LMCacheError) as caught:
        client.request('GET', '/status').json_object()
    assert str(caught.value) == ('GET %s/status: expected a JSON object from an LMCache server, got HTTP 200 with '
                                 'text/html: Welcome to nginx!' % fake_server.url)


def test_long_server_text_is_bounded(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(500, text='x' * 5000, content_type='text/plain'))
    client, _warnings = client_for(fake_server)
    with pytest.raises(LMCacheHTTPError) as caught:
        client.request('GET', '/status')
    assert len(str(caught.value)) < 400


def test_api_key_is_sent_as_bearer_and_never_in_messages(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(401, {'detail': 'Invalid or missing API key'}))
    client, _warnings = client_for(fake_server, api_key='s3cr3t-key')
    with pytest.raises(LMCacheHTTPError) as caught:
        client.request('GET', '/status')
    assert fake_server.requests[0]['headers']['Authorization'] == 'Bearer s3cr3t-key'
    assert 's3cr3t' not in str(caught.value)
    assert 'HTTP 401 Unauthorized: Invalid or missing API key (the server requires a valid API key' in str(caught.value)


def test_no_authorization_header_without_a_key(fake_server):
    fake_server.on('GET', '/status', Answer(200, {}))
    client_for(fake_server)[0].request('GET', '/status')
    assert 'Authorization' not in fake_server.requests[0]['headers']


def test_credentials_in_the_url_are_redacted(no_sleep):
    client = LMCacheClient('http://admin:hunter2@127.0.0.1:9', retries=0)
    with pytest.raises(LMCacheError) as caught:
        client.request('GET', '/status')
    assert 'hunter2' not in str(caught.value) and 'http://***@127.0.0.1:9/status' in str(caught.value)
    assert redact_url('https://u:p@h:1/x') == 'https://***@h:1/x'
    assert redact_url('https://h:1/x') == 'https://h:1/x'


def test_tls_options_reach_the_session(tmp_path):
    ca = tmp_path / 'ca.pem'
    ca.write_text('x')
    assert LMCacheClient('https://h', ca_path=str(ca)).session.verify == str(ca)
    assert LMCacheClient('https://h', validate_certs=False, ca_path=str(ca)).session.verify is False
    assert LMCacheClient('https://h', client_cert='c.pem', client_key='k.pem').session.cert == ('c.pem', 'k.pem')
    assert LMCacheClient('https://h', client_cert='both.pem').session.cert == 'both.pem'


def test_a_path_prefix_in_the_url_is_kept(fake_server):
    fake_server.on('GET', '/lmcache/status', Answer(200, {'ok': 1}))
    client = LMCacheClient(fake_server.url + '/lmcache/')
    assert client.request('GET', '/status').body == {'ok': 1}


def test_last_status_is_remembered_and_reset_on_connection_errors(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(200, {}))
    client, _warnings = client_for(fake_server)
    client.request('GET', '/status')
    assert client.last_status == 200
    client.base_url = 'http://127.0.0.1:9'
    client.retries = 0
    with pytest.raises(LMCacheError):
        client.request('GET', '/status')
    assert client.last_status is None
