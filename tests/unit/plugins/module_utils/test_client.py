# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP client against a scripted server on loopback: retries, writes, deadlines, size caps, errors, TLS, proxies."""

from __future__ import annotations

import email.utils
import json
import os
import socket
import ssl
import threading
import time

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    BACKOFF_MAX_SECONDS,
    Deadline,
    DeadlineExceeded,
    LMCacheClient,
    LMCacheError,
    LMCacheHTTPError,
    OutcomeUnknown,
    TLSOptions,
    backoff_seconds,
    redact_url,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils import _client
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer


def client_for(server, **options):
    warnings = []
    client = LMCacheClient(server.url, warn=warnings.append, **options)
    return client, warnings


# -- reads are retried ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('status', [429, 502, 503, 504])
def test_reads_retry_retryable_statuses_then_succeed(fake_server, no_sleep, status):
    fake_server.on('GET', '/status', Answer(status, {'detail': 'busy'}), Answer(200, {'ok': True}))
    client, warnings = client_for(fake_server)
    assert client.request('GET', '/status').body == {'ok': True}
    assert len(fake_server.sent('GET', '/status')) == 2
    assert len(warnings) == 1 and 'HTTP %d' % status in warnings[0] and 'retry 1 of 3' in warnings[0]


def test_backoff_grows_exponentially_with_jitter(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(503, {}), Answer(503, {}), Answer(503, {}), Answer(200, {}))
    client_for(fake_server)[0].request('GET', '/status')
    assert len(no_sleep) == 3
    for attempt, delay in enumerate(no_sleep, start=1):
        ceiling = 0.5 * 2 ** (attempt - 1)
        assert ceiling / 2 <= delay <= ceiling


def test_backoff_is_capped():
    assert all(backoff_seconds(20) <= BACKOFF_MAX_SECONDS for _attempt in range(50))


def test_gives_up_after_retries_with_the_last_server_text(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(503, {'status': 'unhealthy', 'reason': 'engine not initialized'}))
    client, warnings = client_for(fake_server, retries=2)
    with pytest.raises(LMCacheHTTPError) as caught:
        client.request('GET', '/status')
    assert str(caught.value) == ('GET %s/status failed: HTTP 503 Service Unavailable: engine not initialized '
                                 '(after 3 attempts)' % fake_server.url)
    assert caught.value.status == 503 and len(warnings) == 2


@pytest.mark.parametrize('status', [400, 401, 403, 404, 405, 409, 422, 500])
def test_other_errors_are_never_retried(fake_server, no_sleep, status):
    fake_server.on('GET', '/status', Answer(status, {'detail': 'no'}))
    with pytest.raises(LMCacheHTTPError):
        client_for(fake_server)[0].request('GET', '/status')
    assert len(fake_server.sent('GET', '/status')) == 1 and no_sleep == []


def test_retry_after_in_seconds_is_honoured(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(429, {}, headers={'Retry-After': '7'}), Answer(200, {}))
    client_for(fake_server)[0].request('GET', '/status')
    assert no_sleep == [7.0]


def test_retry_after_as_an_http_date_is_honoured(fake_server, no_sleep):
    when = email.utils.formatdate(time.time() + 20, usegmt=True)
    fake_server.on('GET', '/status', Answer(503, {}, headers={'Retry-After': when}), Answer(200, {}))
    client_for(fake_server)[0].request('GET', '/status')
    assert 15 <= no_sleep[0] <= 21


def test_a_retry_after_past_the_deadline_fails_at_once(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(429, {'detail': 'slow down'}, headers={'Retry-After': '3600'}))
    client, _warnings = client_for(fake_server, deadline=Deadline(30))
    with pytest.raises(DeadlineExceeded, match=r'HTTP 429 .*the server asks to retry after 3600s would pass the task deadline of 30s'):
        client.request('GET', '/status')
    assert no_sleep == [] and len(fake_server.sent('GET', '/status')) == 1


def test_an_accepted_status_is_an_answer_not_retried(fake_server, no_sleep):
    fake_server.on('GET', '/healthcheck', Answer(503, {'reason': 'engine not initialized'}))
    reply = client_for(fake_server)[0].request('GET', '/healthcheck', accept=(503,))
    assert reply.status == 503 and no_sleep == []


def test_connection_refused_names_the_address_and_retries(no_sleep):
    client = LMCacheClient('http://127.0.0.1:9', retries=2)
    with pytest.raises(LMCacheError) as caught:
        client.request('GET', '/status')
    assert str(caught.value) == ('GET http://127.0.0.1:9/status failed: cannot connect to http://127.0.0.1:9 '
                                 '(Connection refused) (after 3 attempts)')
    assert len(no_sleep) == 2


def test_a_read_that_times_out_is_retried_and_reported(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(200, {}, delay=1.0))
    client, _warnings = client_for(fake_server, retries=1, timeout=0.2)
    with pytest.raises(LMCacheError, match=r'GET .*/status failed: no answer within 0.2s \(timeout\) \(after 2 attempts\)'):
        client.request('GET', '/status')
    assert len(fake_server.sent('GET', '/status')) == 2


def test_a_kept_alive_connection_bounds_each_answer_by_the_timeout_too(fake_server, no_sleep):
    # The second request reuses the first's connection, whose reads the kernel bounds (SO_RCVTIMEO): the late answer
    # is a timeout after 0.2 s, not a wait for it.
    fake_server.on('GET', '/status', Answer(200, {}), Answer(200, {}, delay=2.0))
    client, _warnings = client_for(fake_server, retries=0, timeout=0.2)
    client.request('GET', '/status')
    started = time.monotonic()
    with pytest.raises(LMCacheError, match=r'GET .*/status failed: no answer within 0.2s \(timeout\)'):
        client.request('GET', '/status')
    assert time.monotonic() - started < 1.5
    assert client.requests_sent == 1


# -- writes are not sent twice -------------------------------------------------------------------------------------

def test_a_write_answered_late_is_not_sent_again(fake_server, no_sleep):
    fake_server.on('POST', '/cache/pins', Answer(200, {'status': 'pinned'}, delay=1.0))
    client, _warnings = client_for(fake_server, retries=3, timeout=0.2)
    with pytest.raises(OutcomeUnknown, match=r'POST .*/cache/pins: no answer within 0.2s \(timeout\), so it is not known '
                                             r'whether the server carried it out'):
        client.request('POST', '/cache/pins', json_body={})
    assert len(fake_server.sent('POST', '/cache/pins')) == 1


def test_a_write_whose_connection_drops_is_not_sent_again(fake_server, no_sleep):
    fake_server.on('DELETE', '/cache/pins', Answer(drop=True))
    with pytest.raises(OutcomeUnknown):
        client_for(fake_server)[0].request('DELETE', '/cache/pins', json_body={})
    assert len(fake_server.sent('DELETE', '/cache/pins')) == 1


@pytest.mark.parametrize('status', [429, 503])
def test_a_write_refused_with_429_or_503_is_retried(fake_server, no_sleep, status):
    fake_server.on('POST', '/cache/delete', Answer(status, {}), Answer(200, {'status': 'deleted'}))
    assert client_for(fake_server)[0].request('POST', '/cache/delete', json_body={}).status == 200
    assert len(fake_server.sent('POST', '/cache/delete')) == 2


@pytest.mark.parametrize('status', [502, 504])
def test_a_write_answered_by_a_gateway_error_has_an_unknown_outcome(fake_server, no_sleep, status):
    fake_server.on('POST', '/cache/delete', Answer(status, {'detail': 'upstream timed out'}))
    with pytest.raises(OutcomeUnknown, match='it is not known whether the server carried the request out'):
        client_for(fake_server)[0].request('POST', '/cache/delete', json_body={})
    assert len(fake_server.sent('POST', '/cache/delete')) == 1


def test_a_write_to_a_closed_port_is_retried_it_cannot_have_been_applied(no_sleep):
    with pytest.raises(LMCacheError, match=r'cannot connect .*\(after 3 attempts\)'):
        LMCacheClient('http://127.0.0.1:9', retries=2).request('POST', '/cache/clear', json_body={})
    assert len(no_sleep) == 2


def test_a_502_showing_a_downstream_4xx_is_not_retried(fake_server, no_sleep):
    text = "delete to 'node-a' failed: Client error '401 Unauthorized' for url 'http://127.0.0.1:1/cache/objects'"
    fake_server.on('GET', '/directory/keys', Answer(502, {'detail': text}))
    with pytest.raises(LMCacheHTTPError) as caught:
        client_for(fake_server)[0].request('GET', '/directory/keys')
    assert len(fake_server.sent('GET', '/directory/keys')) == 1
    assert "401 Unauthorized" in str(caught.value) and 'the server behind it refused the request; not retried' in str(caught.value)


def test_a_post_that_only_reads_is_retried_like_a_read(fake_server, no_sleep):
    fake_server.on('POST', '/directory/lookup', Answer(502, {}), Answer(200, {'results': []}))
    client_for(fake_server)[0].request('POST', '/directory/lookup', json_body={}, write=False)
    assert len(fake_server.sent('POST', '/directory/lookup')) == 2


# -- bounds: the deadline, the answer's size -------------------------------------------------------------------------

class DripServer:
    """Sends headers, then one body byte every `interval` seconds (or headers one byte at a time)."""

    def __init__(self, interval=0.2, drip_headers=False):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(5)
        self.url = 'http://127.0.0.1:%d' % self.sock.getsockname()[1]
        self.interval = interval
        self.drip_headers = drip_headers
        self.done = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.done:
            try:
                connection, _address = self.sock.accept()
            except OSError:
                return
            connection.recv(65536)
            body = b'{"total_object_count": 4, "pad": "' + b'x' * 200 + b'"}'
            head = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n' % len(body)
            try:
                if not self.drip_headers:
                    connection.sendall(head)
                for byte in (head + body if self.drip_headers else body):
                    connection.sendall(bytes([byte]))
                    time.sleep(self.interval)
            except OSError:
                pass
            connection.close()

    def close(self):
        self.done = True
        self.sock.close()


@pytest.mark.parametrize('drip_headers', [False, True], ids=['body', 'headers'])
def test_a_dripping_server_is_cut_off_at_the_deadline(drip_headers):
    server = DripServer(interval=0.1, drip_headers=drip_headers)
    try:
        client = LMCacheClient(server.url, timeout=2, retries=0, deadline=Deadline(1.0))
        started = time.monotonic()
        with pytest.raises(DeadlineExceeded, match='no complete answer before the task deadline of 1s'):
            client.request('GET', '/status')
        assert time.monotonic() - started < 1.8
    finally:
        server.close()


def test_the_deadline_holds_in_a_process_forked_after_the_client_was_used():
    # ansible-playbook's inventory plugin uses the client, then forks a worker for each task.
    server = DripServer(interval=0.1, drip_headers=False)
    try:
        with pytest.raises(DeadlineExceeded):
            LMCacheClient(server.url, timeout=2, retries=0, deadline=Deadline(0.3)).request('GET', '/status')
        child = os.fork()
        if child == 0:
            code = 1
            started = time.monotonic()
            try:
                LMCacheClient(server.url, timeout=2, retries=0, deadline=Deadline(1.0)).request('GET', '/status')
            except DeadlineExceeded:
                code = 0 if time.monotonic() - started < 1.8 else 2
            finally:
                os._exit(code)
        _pid, status = os.waitpid(child, 0)
        assert os.waitstatus_to_exitcode(status) == 0, 'the child was not cut off at its deadline'
    finally:
        server.close()


def test_no_request_is_started_after_the_deadline(fake_server):
    fake_server.on('GET', '/status', Answer(200, {}))
    client, _warnings = client_for(fake_server, deadline=Deadline(0.01))
    time.sleep(0.02)
    with pytest.raises(DeadlineExceeded, match='GET .*/status: the task deadline of 0.01s has passed'):
        client.request('GET', '/status')
    assert fake_server.requests == []


def test_an_answer_larger_than_the_cap_is_refused(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(200, text='{"pad": "%s"}' % ('x' * 5000)))
    with pytest.raises(LMCacheError, match='the answer is 5011 bytes, more than the 1000 this request accepts; not read'):
        client_for(fake_server)[0].request('GET', '/status', max_bytes=1000)


def test_a_connection_cut_in_the_middle_of_a_body_is_not_called_a_connection_failure(no_sleep):
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    sock.listen(5)

    def serve():
        for _attempt in range(2):
            connection, _address = sock.accept()
            connection.recv(65536)
            connection.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{"total_obj')
            connection.close()
    threading.Thread(target=serve, daemon=True).start()
    client = LMCacheClient('http://127.0.0.1:%d' % sock.getsockname()[1], retries=1)
    with pytest.raises(LMCacheError) as caught:
        client.request('GET', '/status')
    assert 'the connection closed in the middle of the answer (11 of 100 bytes read)' in str(caught.value)
    assert 'cannot connect' not in str(caught.value)
    sock.close()


# -- redirects -------------------------------------------------------------------------------------------------------

def test_a_redirect_on_a_write_is_an_error_and_not_followed(fake_server, no_sleep):
    fake_server.on('POST', '/cache/clear', Answer(307, {}, headers={'Location': '/other/cache/clear'}))
    with pytest.raises(LMCacheHTTPError, match=r'HTTP 307 .*redirects to /other/cache/clear; the request was not carried out'):
        client_for(fake_server)[0].request('POST', '/cache/clear', json_body={})
    assert fake_server.sent('POST', '/other/cache/clear') == []


def test_a_redirect_on_a_read_is_followed_on_the_same_server(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(301, {}, headers={'Location': '/v2/status'}))
    fake_server.on('GET', '/v2/status', Answer(200, {'ok': 1}))
    assert client_for(fake_server)[0].request('GET', '/status').body == {'ok': 1}


def test_a_redirect_to_another_server_is_not_followed_so_the_key_stays(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(302, {}, headers={'Location': 'http://attacker.example/status'}))
    with pytest.raises(LMCacheHTTPError, match='not followed'):
        client_for(fake_server, api_key='k')[0].request('GET', '/status')


# -- error texts -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('body, text', [
    ({'detail': "tier 'l2' not supported; only 'l1'"}, "tier 'l2' not supported; only 'l1'"),
    ({'detail': [{'loc': ['body', 'world_size'], 'msg': 'Input should be greater than or equal to 1'}]},
     'body.world_size: Input should be greater than or equal to 1'),
    ({'error': 'boom'}, 'boom'),
    ({'message': 'bad thing'}, 'bad thing'),
    ({'reason': 'engine not initialized'}, 'engine not initialized'),
])
def test_error_text_is_the_servers_own(fake_server, no_sleep, body, text):
    fake_server.on('POST', '/cache/clear', Answer(400, body))
    with pytest.raises(LMCacheHTTPError) as caught:
        client_for(fake_server)[0].request('POST', '/cache/clear', json_body={})
    assert str(caught.value) == 'POST %s/cache/clear failed: HTTP 400 Bad Request: %s' % (fake_server.url, text)


def test_html_error_body_is_reported_by_its_title(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(404, text='<html><head><title>404 Not Found</title></head><body>nginx</body></html>',
                                            content_type='text/html'))
    with pytest.raises(LMCacheHTTPError, match=r'HTTP 404 Not Found: 404 Not Found$'):
        client_for(fake_server)[0].request('GET', '/status')


def test_a_non_json_success_body_is_a_clear_error(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(200, text='<html><title>Welcome</title></html>', content_type='text/html'))
    with pytest.raises(LMCacheError, match='expected a JSON object from an LMCache server, got HTTP 200 with text/html: Welcome'):
        client_for(fake_server)[0].request('GET', '/status').json_object()


def test_long_server_text_is_bounded(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(400, {'detail': 'y' * 5000}))
    with pytest.raises(LMCacheHTTPError) as caught:
        client_for(fake_server)[0].request('GET', '/status')
    assert len(str(caught.value)) < 450


# -- keys, URLs, TLS, proxies ----------------------------------------------------------------------------------------

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


def test_a_netrc_entry_does_not_replace_the_key(fake_server, tmp_path, monkeypatch):
    (tmp_path / '.netrc').write_text('machine 127.0.0.1 login admin password hunter2\n')
    monkeypatch.setenv('HOME', str(tmp_path))
    fake_server.on('GET', '/status', Answer(200, {}))
    client_for(fake_server, api_key='k1')[0].request('GET', '/status')
    assert fake_server.requests[0]['headers']['Authorization'] == 'Bearer k1'


def test_credentials_in_a_url_are_redacted_in_messages():
    assert redact_url('https://u:p@h:1/x') == 'https://***@h:1/x'
    assert redact_url('https://h:1/x') == 'https://h:1/x'
    assert redact_url('http://u:p@[::1') == 'http://***@[::1'


def test_tls_options_build_the_context_and_ignore_environment_bundles(tmp_path, monkeypatch):
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', '/nonexistent/bundle.pem')
    monkeypatch.setenv('CURL_CA_BUNDLE', '/nonexistent/bundle.pem')
    unverified = TLSOptions(validate_certs=False).context()
    assert unverified.verify_mode == ssl.CERT_NONE and unverified.check_hostname is False
    verified = TLSOptions().context()
    assert verified.verify_mode == ssl.CERT_REQUIRED and verified.check_hostname is True


def test_a_path_prefix_in_the_url_is_kept(fake_server):
    fake_server.on('GET', '/lmcache/status', Answer(200, {'ok': 1}))
    assert LMCacheClient(fake_server.url + '/lmcache/').request('GET', '/status').body == {'ok': 1}


def test_an_http_proxy_from_the_environment_is_used_except_for_loopback(fake_server, monkeypatch):
    fake_server.on('GET', '/status', Answer(200, {'via': 'proxy'}))
    monkeypatch.setenv('http_proxy', fake_server.url)
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.delenv('NO_PROXY', raising=False)
    client = LMCacheClient('http://lmcache-node.example:8080')
    assert client.request('GET', '/status').body == {'via': 'proxy'}
    assert fake_server.requests[0]['target'] == 'http://lmcache-node.example:8080/status'
    monkeypatch.setenv('no_proxy', '.example')
    assert LMCacheClient('http://lmcache-node.example:8080')._proxy is None
    assert LMCacheClient('http://127.0.0.1:8080')._proxy is None


def test_last_status_is_remembered_and_reset_when_there_is_no_answer(fake_server, no_sleep):
    fake_server.on('GET', '/status', Answer(200, {}))
    client, _warnings = client_for(fake_server)
    client.request('GET', '/status')
    assert client.last_status == 200
    fake_server.on('GET', '/status', Answer(drop=True))
    client.retries = 0
    with pytest.raises(LMCacheError):
        client.request('GET', '/status')
    assert client.last_status is None


def test_connections_are_kept_alive_between_requests(no_sleep):
    from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet
    with SimFleet(nodes=1) as fleet:
        client = LMCacheClient(fleet.url('node-0000'))
        for _attempt in range(3):
            client.request('GET', '/healthcheck')
        first = client._connection
        client.request('GET', '/healthcheck')
        assert client._connection is first and client.requests_sent == 4


# -- the wire: what the client's own HTTP/1.1 exchange reads, and what it refuses to send -----------------------------

class LoopbackServer:
    """A server on a free loopback port, serving from a thread of its own from the end of __init__."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(5)
        self.url = 'http://127.0.0.1:%d' % self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        raise NotImplementedError

    def close(self):
        self.sock.close()


class WireServer(LoopbackServer):
    """Answers each request with the next of `answers` (raw bytes), on whatever connection it came; records what came."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.received = []
        self.connections = 0
        super().__init__()

    def serve(self):
        while self.answers:
            try:
                connection, _address = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with connection:
                while self.answers:
                    request = self.whole_request(connection)
                    if not request:
                        break
                    self.received.append(request)
                    answer = self.answers.pop(0)
                    connection.sendall(answer)
                    if b'Connection: close' in answer:
                        break

    @staticmethod
    def whole_request(connection):
        """The request's head and body (by its Content-Length), however the client split its writes."""
        request = b''
        while b'\r\n\r\n' not in request or len(request) < request.index(b'\r\n\r\n') + 4 + int(
                ([line.split(b':')[1] for line in request.split(b'\r\n') if line.lower().startswith(b'content-length:')]
                 or [b'0'])[0]):
            block = connection.recv(65536)
            if not block:
                return request
            request += block
        return request


OK_HEAD = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n'


def test_an_answer_in_chunks_is_read_whole_and_the_connection_used_again(no_sleep):
    chunked = OK_HEAD + b'Transfer-Encoding: chunked\r\n\r\n5;ext=1\r\n{"a":\r\n3\r\n 1}\r\n0\r\nX-Trailer: t\r\n\r\n'
    server = WireServer(chunked, OK_HEAD + b'Content-Length: 8\r\n\r\n{"b": 2}')
    client = LMCacheClient(server.url)
    assert client.request('GET', '/status').body == {'a': 1}
    assert client.request('GET', '/status').body == {'b': 2}
    assert server.connections == 1
    server.close()


def test_an_answer_without_a_length_is_read_up_to_the_close(no_sleep):
    server = WireServer(OK_HEAD + b'Connection: close\r\n\r\n{"total_object_count": 4}',
                        OK_HEAD + b'Content-Length: 2\r\n\r\n{}')
    client = LMCacheClient(server.url)
    assert client.request('GET', '/status').body == {'total_object_count': 4}
    assert client.request('GET', '/status').body == {}
    assert server.connections == 2
    server.close()


def test_an_interim_answer_is_skipped(no_sleep):
    server = WireServer(b'HTTP/1.1 100 Continue\r\n\r\n' + OK_HEAD + b'Content-Length: 12\r\n\r\n{"ok": true}')
    assert LMCacheClient(server.url).request('POST', '/cache/clear', {'tier': 'l1'}).body == {'ok': True}
    request = server.received[0]
    assert request.startswith(b'POST /cache/clear HTTP/1.1\r\nHost: 127.0.0.1:') and request.endswith(b'\r\n\r\n{"tier":"l1"}')
    assert b'Content-Length: 13\r\n' in request and b'Content-Type: application/json\r\n' in request
    server.close()


@pytest.mark.parametrize('answer, problem', [
    (b'SSH-2.0-OpenSSH_9.2\r\n\r\n', "the answer is not valid HTTP (the status line is 'SSH-2.0-OpenSSH_9.2')"),
    (OK_HEAD + b'X-Pad: ' + b'x' * 70000 + b'\r\n\r\n', 'the answer is not valid HTTP (its header is longer than 65536 bytes)'),
    # Two lengths (a request-smuggling shape): neither is believed.
    (OK_HEAD + b'Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}', "not valid HTTP (its Content-Length is '2, 40')"),
    (OK_HEAD + b'Transfer-Encoding: chunked\r\n\r\nzz\r\n', "not valid HTTP (a chunk size is b'zz')"),
    (OK_HEAD + b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":', 'the connection closed in the middle of the answer (5 bytes read)'),
    (OK_HEAD + b'Content-Le', 'the connection closed in the middle of the answer (59 bytes read)'),
    (b'', 'the server closed the connection without answering'),
])
def test_an_answer_that_is_not_http_is_named_and_a_write_is_not_sent_again(no_sleep, answer, problem):
    server = WireServer(answer)
    with pytest.raises(OutcomeUnknown) as caught:
        LMCacheClient(server.url, retries=3).request('POST', '/cache/clear', {'tier': 'l1'})
    assert problem in str(caught.value)
    assert len(server.received) == 1
    server.close()


def test_a_chunked_answer_over_the_cap_is_refused(no_sleep):
    server = WireServer(OK_HEAD + b'Transfer-Encoding: chunked\r\n\r\n' + b'400\r\n' + b'x' * 1024 + b'\r\n' * 2)
    with pytest.raises(LMCacheError, match='the answer is more than the 1000 bytes this request accepts; not read further'):
        LMCacheClient(server.url).request('GET', '/status', max_bytes=1000)
    server.close()


@pytest.mark.parametrize('path', ['/quota/a\r\nX-Injected: 1', '/quota/a b', '/quota/\u00e9'])
def test_a_path_no_request_line_can_carry_is_never_sent(path):
    server = WireServer(OK_HEAD + b'Content-Length: 2\r\n\r\n{}')
    with pytest.raises(LMCacheError, match='the request path holds a space, a control or a non-ASCII character; not sent'):
        LMCacheClient(server.url).request('DELETE', path)
    assert server.connections == 0
    server.close()


def test_an_api_key_no_header_can_carry_is_refused_unshown():
    with pytest.raises(LMCacheError) as caught:
        LMCacheClient('http://127.0.0.1:9', api_key='s3cret\r\nX-Injected: 1')
    assert 'holds a character no HTTP header can carry; nothing was sent' in str(caught.value)
    assert 's3cret' not in str(caught.value)


def test_an_http_proxy_gets_the_credentials_its_url_names(fake_server, monkeypatch):
    fake_server.on('GET', '/status', Answer(200, {'via': 'proxy'}))
    monkeypatch.setenv('http_proxy', fake_server.url.replace('http://', 'http://ops:pw@'))
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.delenv('NO_PROXY', raising=False)
    assert LMCacheClient('http://lmcache-node.example:8080').request('GET', '/status').body == {'via': 'proxy'}
    assert fake_server.requests[0]['headers']['Proxy-Authorization'] == 'Basic b3BzOnB3'


def test_an_https_proxy_that_refuses_the_tunnel_is_a_connection_problem(monkeypatch, no_sleep):
    server = WireServer(b'HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n')
    monkeypatch.setenv('https_proxy', server.url)
    monkeypatch.delenv('no_proxy', raising=False)
    monkeypatch.delenv('NO_PROXY', raising=False)
    with pytest.raises(LMCacheError) as caught:
        LMCacheClient('https://lmcache-node.example:8443', retries=0).request('GET', '/status')
    assert str(caught.value) == ('GET https://lmcache-node.example:8443/status failed: cannot connect to '
                                 'https://lmcache-node.example:8443 (the proxy refused the tunnel: HTTP 407 Proxy '
                                 'Authentication Required)')
    assert server.received[0].startswith(b'CONNECT lmcache-node.example:8443 HTTP/1.1\r\n')
    server.close()


def test_a_servers_reason_phrase_is_one_bounded_line_in_the_message(no_sleep):
    server = WireServer(b'HTTP/1.1 500 <b>bad</b>\t' + b'x' * 5000 + b'\r\nContent-Length: 0\r\n\r\n')
    with pytest.raises(LMCacheHTTPError) as caught:
        LMCacheClient(server.url, retries=0).request('GET', '/status')
    assert str(caught.value).startswith('GET %s/status failed: HTTP 500 bad x' % server.url)
    assert len(str(caught.value)) < 400 and '<b>' not in str(caught.value)
    server.close()


def test_the_watchdog_forgets_released_connections():
    """A long-running event source opens a connection per node and poll: the deadline's watchdog must not keep them."""
    watchdog = _client._Watchdog()
    sockets = [socket.socket() for _number in range(500)]
    try:
        entries = [watchdog.watch(sock, time.monotonic() + 3600) for sock in sockets]
        for entry in entries[:-1]:
            assert watchdog.release(entry) is False
        deadline = time.monotonic() + 5 * watchdog.MAX_SLEEP
        while len(watchdog._entries) > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(watchdog._entries) == entries[-1:]
    finally:
        for sock in sockets:
            sock.close()


def test_the_watchdog_cuts_a_connection_at_its_deadline_even_when_it_was_asleep_for_a_later_one():
    watchdog = _client._Watchdog()
    left, right = socket.socketpair()
    later_left, later_right = socket.socketpair()
    try:
        watchdog.watch(later_left, time.monotonic() + 3600)
        entry = watchdog.watch(left, time.monotonic() + 0.2)
        left.settimeout(5)
        started = time.monotonic()
        assert left.recv(10) == b''
        assert time.monotonic() - started < 2
        assert watchdog.release(entry) is True
    finally:
        for sock in (left, right, later_left, later_right):
            sock.close()


# -- reads sent at once (HTTP/1.1 pipelining) ------------------------------------------------------------------------

class EchoServer(LoopbackServer):
    """Answers each request with {"path": its path, "n": its number}, in order; records (round trip, method, path) of
    each request it answers, a round trip beginning each time requests arrive on a connection after it answered there.
    `close_after`: the nth request's answer says Connection: close; `drop_after`: the connection is dropped unanswered
    after n answers, once."""

    def __init__(self, close_after=None, drop_after=None):
        self.close_after, self.drop_after = close_after, drop_after
        self.answered = []
        self.round_trips = 0
        super().__init__()

    def serve(self):
        while True:
            try:
                connection, _address = self.sock.accept()
            except OSError:
                return
            with connection:
                self.converse(connection)

    def converse(self, connection):
        buffer, answered_since = b'', True
        while True:
            block = connection.recv(65536)
            if not block:
                return
            if answered_since:
                self.round_trips += 1
                answered_since = False
            buffer += block
            while b'\r\n\r\n' in buffer:
                head, buffer = buffer.split(b'\r\n\r\n', 1)
                method, path = head.split(b' ')[:2]
                if len(self.answered) == self.drop_after:
                    self.drop_after = None
                    return
                self.answered.append((self.round_trips, method.decode(), path.decode()))
                body = json.dumps({'path': path.decode(), 'n': len(self.answered)}).encode()
                close = len(self.answered) == self.close_after
                connection.sendall(OK_HEAD + b'Content-Length: %d\r\n%s\r\n%s' % (
                    len(body), b'Connection: close\r\n' if close else b'', body))
                answered_since = True
                if close:
                    return


def test_reads_sent_at_once_take_one_round_trip_and_each_request_its_own_answer(no_sleep):
    server = EchoServer()
    client, warnings = client_for(server)
    client.request('GET', '/version')
    with client.pipelined(['/status', '/metrics', '/status']):
        bodies = [client.request('GET', path).body for path in ('/status', '/metrics', '/status')]
    assert bodies == [{'path': '/status', 'n': 2}, {'path': '/metrics', 'n': 3}, {'path': '/status', 'n': 4}]
    assert server.answered == [(1, 'GET', '/version'), (2, 'GET', '/status'), (2, 'GET', '/metrics'), (2, 'GET', '/status')]
    assert client.requests_sent == 4 and warnings == []
    server.close()


def test_an_answer_read_before_a_write_or_the_end_of_the_block_is_never_taken_after_it(no_sleep):
    server = EchoServer()
    client, _warnings = client_for(server)
    client.request('GET', '/version')
    with client.pipelined(['/status', '/metrics']):
        client.request('POST', '/cache/clear')
        assert client.request('GET', '/status').body == {'path': '/status', 'n': 5}
    with client.pipelined(['/status', '/metrics']):
        pass
    assert client.request('GET', '/metrics').body == {'path': '/metrics', 'n': 8}
    assert [path for _trip, _method, path in server.answered] == [
        '/version', '/status', '/metrics', '/cache/clear', '/status', '/status', '/metrics', '/metrics']


def test_reads_the_server_closed_the_connection_before_answering_are_sent_again_as_usual(no_sleep):
    server = EchoServer(close_after=2)
    client, warnings = client_for(server)
    client.request('GET', '/version')
    with client.pipelined(['/status', '/metrics', '/quota']):
        bodies = [client.request('GET', path).body for path in ('/status', '/metrics', '/quota')]
    assert bodies == [{'path': '/status', 'n': 2}, {'path': '/metrics', 'n': 3}, {'path': '/quota', 'n': 4}]
    assert warnings == []
    server.close()


def test_a_connection_lost_while_reading_the_answers_is_that_reads_failure_retried_as_usual(no_sleep):
    server = EchoServer(drop_after=2)
    client, warnings = client_for(server)
    client.request('GET', '/version')
    with client.pipelined(['/status', '/metrics']):
        assert client.request('GET', '/status').body == {'path': '/status', 'n': 2}
        assert client.request('GET', '/metrics').body == {'path': '/metrics', 'n': 3}
    assert len(warnings) == 1 and warnings[0].startswith('GET %s/metrics: ' % server.url) and 'retry 1 of 3' in warnings[0]
    server.close()


def test_reads_sent_at_once_may_open_the_connection_and_one_refused_is_met_once_per_attempt(no_sleep, monkeypatch):
    server = EchoServer()
    client, _warnings = client_for(server)
    with client.pipelined(['/version', '/status']):
        client.request('GET', '/version')
        client.request('GET', '/status')
    assert [trip for trip, _method, _path in server.answered] == [1, 1]
    server.close()
    attempts = []

    def refused(address, timeout):
        attempts.append(address)
        raise ConnectionRefusedError(111, 'Connection refused')

    monkeypatch.setattr(_client.socket, 'create_connection', refused)
    client, warnings = client_for(server, retries=1)
    with client.pipelined(['/version', '/status']), pytest.raises(LMCacheError, match='cannot connect'):
        client.request('GET', '/version')
    assert len(attempts) == 2 and len(warnings) == 1


def test_reads_are_not_sent_ahead_outside_a_pipelined_block(no_sleep):
    server = EchoServer()
    client, _warnings = client_for(server)
    client.request('GET', '/version')
    client.send_at_once(['/status', '/metrics'])
    client.request('POST', '/cache/clear')
    assert client.request('GET', '/status').body == {'path': '/status', 'n': 3}
    server.close()
