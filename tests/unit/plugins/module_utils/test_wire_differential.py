# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The client's own HTTP/1.1 reader (_client._receive) held against one this project does not own, h11: Hypothesis
generates answers, valid and broken (lengths, chunks, trailers, interim 1xx answers, header forms), and both read
them. Where h11 reads an answer, ours must read the same status, header fields and body; where h11 refuses it, ours
must fail with one of its own clean errors, never another exception and never a made-up body; and a server that stops
sending half-way never holds a request past its deadline.

The examples are the same on every run (derandomize): a suite that fails must fail again. To search further, run it
with more examples (max_examples=20000 found no divergence after the fixes of 2026-12-07)."""

from __future__ import annotations

import socket
import threading
import time
import typing as t

import h11
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.lmcache.kvcache.plugins.module_utils import _client
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import Deadline, LMCacheClient, LMCacheError, squash

# What our reader raises for an answer it will not read: each becomes a clean message (a connection problem, or an
# answer that is not HTTP); nothing else may escape it.
CLEAN_ERRORS = (_client._Closed, _client._NotHTTP, _client._TooLarge)
TOKEN = st.text(alphabet='!#$%&\'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ', min_size=1, max_size=12)
FIELD_VALUE = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=20)
# What a broken server puts where it should not: control characters, spaces, colons, non-ASCII bytes.
JUNK = st.text(alphabet=st.sampled_from(['\x00', '\x7f', ' ', '\t', ':', '\r', '\n', 'x', '\xe9', '\x01']), min_size=1, max_size=4)
BODY = st.binary(max_size=64)
FRAMINGS = ['length', 'length-short', 'length-long', 'length-twice', 'length-differs', 'length-junk', 'chunked',
            'chunked-broken', 'chunked-with-length', 'chunked-not-last', 'to-close', 'none-204']


def h11_read(data: bytes, method: str = 'GET') -> t.Tuple[int, str, t.Dict[str, str], bytes]:
    """(status, reason, header fields, body) as h11 reads the answer, or h11.RemoteProtocolError."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(h11.Request(method=method, target='/', headers=[('Host', 'lmcache')]))
    conn.send(h11.EndOfMessage())
    conn.receive_data(data)
    conn.receive_data(b'')
    response = None
    body = b''
    while True:
        event = conn.next_event()
        if isinstance(event, h11.InformationalResponse):
            continue
        if isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert response is not None
            fields: t.Dict[str, str] = {}
            for name, value in response.headers:
                name_text, value_text = name.decode('latin-1'), value.decode('latin-1')
                fields[name_text] = '%s, %s' % (fields[name_text], value_text) if name_text in fields else value_text
            return response.status_code, squash(response.reason.decode('latin-1')), fields, body
        else:
            raise h11.RemoteProtocolError('h11 stopped at %r' % (event,))


def our_read(data: bytes, method: str = 'GET') -> t.Tuple[int, str, t.Dict[str, str], bytes]:
    """The same answer read by our client's reader, from a socket whose other end sent it and closed."""
    ours, theirs = socket.socketpair()
    try:
        ours.settimeout(5)
        theirs.sendall(data)
        theirs.shutdown(socket.SHUT_WR)
        answer = _client._receive(_client._Stream(ours), method, 'http://lmcache/', 1 << 20)
        return answer.status, answer.reason, dict(answer.headers), answer.data
    finally:
        ours.close()
        theirs.close()


@st.composite
def answers(draw: t.Any) -> bytes:
    """An HTTP/1.x answer, valid or broken in one of the ways servers and proxies break them."""
    lines = []
    for _interim in range(draw(st.integers(0, 2))):
        status = draw(st.sampled_from([100, 102, 103]))
        lines.append('HTTP/1.1 %d Interim\r\n%s\r\n' % (status, ''.join(
            '%s: %s\r\n' % (draw(TOKEN), draw(FIELD_VALUE)) for _n in range(draw(st.integers(0, 2))))))
    version = draw(st.sampled_from(['HTTP/1.1'] * 6 + ['HTTP/1.0', 'HTTP/2', 'HTTP/1.1 ', 'http/1.1']))
    status = draw(st.one_of(st.integers(200, 599), st.sampled_from(['200', '2000', '20', 'abc', '-20', '٢٠٠'])))
    reason = draw(st.one_of(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=20), JUNK))
    fields = [(draw(TOKEN), draw(FIELD_VALUE)) for _n in range(draw(st.integers(0, 3)))]
    fields = [(name, value) for name, value in fields
              if name.lower() not in ('content-length', 'transfer-encoding', 'connection')]
    if draw(st.booleans()):
        fields.append(draw(st.sampled_from([(' Leading', 'space'), ('Trailing ', 'space'), ('No-Colon', None),
                                            ('Bad Name', 'x'), ('Ctl', 'a\x00b'), ('Folded', 'a\r\n b'),
                                            ('', 'empty-name'), ('Latin', '\xe9t\xe9')])))
    framing = draw(st.sampled_from(FRAMINGS))
    body = draw(BODY)
    if framing.startswith('length') or framing == 'chunked-with-length':
        length = {'length-short': max(len(body) - 3, 0), 'length-long': len(body) + 3}.get(framing, len(body))
        fields.append(('Content-Length', 'x1' if framing == 'length-junk' else str(length)))
        if framing == 'length-twice':
            fields.append(('Content-Length', str(length)))
        if framing == 'length-differs':
            fields.append(('Content-Length', str(length + 1)))
    if framing.startswith('chunked'):
        fields.append(('Transfer-Encoding', 'gzip, chunked' if framing == 'chunked-not-last' else 'chunked'))
    head = '%s %s %s\r\n%s\r\n' % (version, status, reason, ''.join(
        '%s\r\n' % name if value is None else '%s: %s\r\n' % (name, value) for name, value in fields))
    raw = ''.join(lines).encode('latin-1') + head.encode('latin-1', errors='replace')
    if framing == 'none-204':
        return raw.replace(b' %s ' % str(status).encode(), b' 204 ', 1)
    if framing.startswith('chunked'):
        return raw + chunks(draw, body, broken=framing == 'chunked-broken')
    return raw + body


def chunks(draw: t.Any, body: bytes, broken: bool) -> bytes:
    """A body in chunks, with extensions and trailer fields now and then; `broken`: one way to get it wrong."""
    out = b''
    rest = body
    while rest:
        size = draw(st.integers(1, max(1, len(rest))))
        extension = draw(st.sampled_from([b'', b';name=value', b';x']))
        out += b'%x%s\r\n%s\r\n' % (size, extension, rest[:size])
        rest = rest[size:]
    out += b'0\r\n'
    out += b''.join(b'%s: %s\r\n' % (draw(TOKEN).encode(), draw(FIELD_VALUE).encode())
                    for _n in range(draw(st.integers(0, 2))))
    out += b'\r\n'
    if broken:
        how = draw(st.sampled_from(['size', 'crlf', 'cut', 'huge']))
        if how == 'size':
            out = b'zz\r\n' + out
        elif how == 'crlf':
            out = out.replace(b'\r\n', b'\n', 1) if body else b'1\r\nab\r\n' + out
        elif how == 'cut':
            out = out[:max(0, len(out) - 3)]
        else:
            out = b'%x\r\n' % (1 << 70) + out
    return out


@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(answers())
def test_our_reader_reads_what_h11_reads_and_cleanly_refuses_what_it_refuses(data: bytes) -> None:
    try:
        expected = h11_read(data)
    except h11.RemoteProtocolError:
        expected = None
    try:
        got = our_read(data)
    except CLEAN_ERRORS:
        got = None
    if expected is None:
        assert got is None, 'h11 refuses this answer, ours read it as %r:\n%r' % (got, data)
    else:
        assert got == expected, 'h11 reads %r, ours %r:\n%r' % (expected, got, data)


@pytest.mark.parametrize('method, data', [
    ('HEAD', b'HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n'),
    ('GET', b'HTTP/1.1 304 Not Modified\r\nContent-Length: 12\r\n\r\n'),
    ('GET', b'HTTP/1.0 200 OK\r\n\r\nto the end'),
])
def test_answers_without_a_body_or_without_a_length_read_alike(method: str, data: bytes) -> None:
    assert our_read(data, method) == h11_read(data, method)


class _Dripping:
    """A server that sends what it is given, then keeps the connection open without a word more."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.listener = socket.create_server(('127.0.0.1', 0))
        self.port = self.listener.getsockname()[1]
        self.connections: t.List[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        try:
            conn, _address = self.listener.accept()
        except OSError:
            return
        self.connections.append(conn)
        try:
            conn.recv(65536)
            conn.sendall(self.data)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for conn in self.connections:
            conn.close()


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(answers(), st.integers(0, 200))
def test_an_answer_cut_short_on_an_open_connection_never_holds_a_request_past_its_deadline(data: bytes, cut: int) -> None:
    server = _Dripping(data[:max(0, len(data) - cut)] if cut else data)
    started = time.monotonic()
    try:
        client = LMCacheClient('http://127.0.0.1:%d' % server.port, timeout=5.0, retries=0, deadline=Deadline(0.5))
        try:
            client.request('GET', '/status', accept=range(100, 600))
        except LMCacheError:
            pass
        finally:
            client.close()
    finally:
        server.close()
    assert time.monotonic() - started < 2.0
