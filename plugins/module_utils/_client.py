# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client every module, the fan-out and the inventory use to talk to LMCache servers.

Standard library only, so the managed hosts need no extra Python package and a module starts fast. The client speaks
HTTP/1.1 on its own sockets (one request, one whole answer, kept alive; the reads an operation knows it will send may
go out at once, see LMCacheClient.pipelined): every wait is bounded by the task's deadline, every answer by a size
cap, and an exchange costs a fraction of http.client's (which parses each answer's header with the email package:
most of a fan-out's time over 10,000 endpoints, benchmarks/README.md).

Retry rules (docs/docsite/rst/security.rst, "Retries, deadlines and sizes"):
- reads are retried on connection errors, timeouts and HTTP 429, 502, 503, 504 (honouring Retry-After);
- a write is retried only when it cannot have been applied: the connection was never made, or the server answered
  429 or 503. Any other failure after a write was sent raises OutcomeUnknown: the caller re-reads and reconciles;
- a 502 whose body shows the server behind the gateway refused the request (a 4xx) is never retried;
- nothing is retried past the deadline; a Retry-After beyond it fails at once.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import random
import re
import select
import socket
import struct
import threading
import time
import typing as t
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.lmcache.kvcache.plugins.module_utils._proxy import Proxies, Proxy, UnusableProxy

RETRY_STATUSES = frozenset((429, 502, 503, 504))
# A write answered with one of these was refused before it was carried out, so it may be sent again.
WRITE_RETRY_STATUSES = frozenset((429, 503))
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
SERVER_TEXT_MAX_CHARS = 300
# An answer larger than this is refused (LMCache's /status is a few KiB); callers expecting more say so.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
READ_BLOCK_BYTES = 65536
# An answer's status line and header fields: LMCache's are a few hundred bytes.
MAX_HEAD_BYTES = 65536
LARGE_TEXT_CHARS = 65536
MAX_REDIRECTS = 5
# Fields LMCache and FastAPI put their error text in, by route and generation, in the order read.
ERROR_TEXT_FIELDS = ('detail', 'error', 'message', 'reason')
# Methods that carry a body, sent with Content-Length: 0 when empty (as http.client does; some servers require it).
BODY_METHODS = frozenset(('POST', 'PUT', 'PATCH'))
# What a request target may hold: printable ASCII, no space (the collection quotes every id it puts in a path).
_REQUEST_TARGET = re.compile(r'[!-~]+\Z')
# A chunk's size (at most 20 digits, as h11 reads it), extensions (not read) and spaces after them.
_CHUNK_HEADER = re.compile(rb'([0-9A-Fa-f]{1,20})(?:;[^\n]*)?[ \t]*\Z')
_HEAD_END = re.compile(rb'\r?\n\r?\n')
_LINE_END = re.compile(r'\r?\n')
# The status line and a header field's name and value, as h11 reads them (tests/unit holds ours against it): RFC 9110's
# grammar, except that a visible character is any but NUL and whitespace, as servers send.
_VCHAR = r'[^\x00\t\n\x0b\x0c\r ]'
_STATUS_LINE = re.compile(r'(HTTP/[0-9]\.[0-9]) ([0-9]{3})(?: ((?:[ \t]|%s)*))?\Z' % _VCHAR)
_TOKEN = r"[-!#$%&'*+.^_`|~0-9A-Za-z]+"
_FIELD_VALUE = r'(?:{0}+(?:[ \t]+{0}+)*)?'.format(_VCHAR)
# A header field: its name, a colon, its value between optional spaces or tabs (group 2: the value without them).
_FIELD_LINE = re.compile(r'(%s):[ \t]*(%s)[ \t]*\Z' % (_TOKEN, _FIELD_VALUE))
_TITLE = re.compile(r'<title[^>]*>(.*?)</title>', re.IGNORECASE | re.DOTALL)
_MARKUP = re.compile(r'<[^>]+>')
_UNSENDABLE = re.compile(r'[^\x20-\x7e\x80-\xff]')


class LMCacheError(Exception):
    """An expected failure: the message is complete and safe to show to the user."""


class LMCacheHTTPError(LMCacheError):
    """The server answered with a status the caller did not accept."""

    def __init__(self, message: str, status: int, server_text: str = '') -> None:
        super().__init__(message)
        self.status = status
        self.server_text = server_text


class OutcomeUnknown(LMCacheError):
    """A write was sent but no complete answer came back: it may or may not have been applied."""


class DeadlineExceeded(LMCacheError):
    """The task's total deadline passed."""


class Deadline:
    """The total time a task may take, shared by every request it makes."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def check(self, doing: str) -> float:
        """Seconds left; DeadlineExceeded (naming what was about to happen) when none are."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineExceeded('%s: the task deadline of %ss has passed (set deadline to allow more time)'
                                   % (doing, _seconds(self.seconds)))
        return left


def plain_number(value: float, places: int = 6) -> str:
    """A number for a message, without trailing zeros: 120.0 -> '120', 0.9941 -> '0.9941' (at most `places` places)."""
    return ('%.*f' % (places, value)).rstrip('0').rstrip('.')


def _seconds(value: float) -> str:
    return plain_number(value, 3)


# struct timeval, as SO_RCVTIMEO and SO_SNDTIMEO take it: seconds and microseconds, two C longs (with the padding that
# makes macOS's int microseconds the same size).
_TIMEVAL = struct.Struct('@ll')


class _Watched:
    """One socket the watchdog watches: when its deadline passes, whether it fired, whether it was released."""

    __slots__ = ('expires', 'sock', 'fired', 'released')

    def __init__(self, expires: float, sock: socket.socket) -> None:
        self.expires = expires
        self.sock = sock
        self.fired = False
        self.released = False


class _Watchdog:
    """One thread per process that shuts a socket down when its deadline passes.

    Socket timeouts bound each read, not a whole answer: a server dripping one byte at a time would keep a task busy
    forever. The watchdog makes the deadline hard, in any thread (the fan-out runs many clients at once).

    Watching and releasing take no lock (a deque's appends are atomic, a release is a flag): a fan-out's threads open
    and close a connection per node, and a lock taken there kept them queueing on it. The thread takes the lock only
    to sleep; it wakes at the earliest deadline it knows of, and at least every MAX_SLEEP seconds for one it may not.
    """

    MAX_SLEEP = 1.0

    def __init__(self) -> None:
        self._start_afresh()

    def _start_afresh(self) -> None:
        """No thread and nothing watched. Also what a forked child starts with: its parent's thread does not run in it
        (ansible-playbook's inventory plugin uses the client, then forks a worker per task; without this, no deadline
        in those workers was hard), and the lock may have been held by that thread at the fork."""
        self._lock = threading.Condition()
        self._entries: t.Deque[_Watched] = collections.deque()
        self._thread: t.Optional[threading.Thread] = None
        self._wakes_at = float('inf')

    def watch(self, sock: socket.socket, expires: float) -> _Watched:
        """Watch `sock` until release(); it is shut down at `expires`."""
        entry = _Watched(expires, sock)
        self._entries.append(entry)
        if self._thread is None or expires < self._wakes_at:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name='lmcache-deadline', daemon=True)
                    self._thread.start()
                self._wakes_at = min(self._wakes_at, expires)
                self._lock.notify()
        return entry

    @staticmethod
    def release(entry: _Watched) -> bool:
        """Stop watching; True if the deadline had already fired on this socket."""
        entry.released = True
        return entry.fired

    def _run(self) -> None:
        while True:
            with self._lock:
                now = time.monotonic()
                kept = []
                for _waiting in range(len(self._entries)):
                    entry = self._entries.popleft()
                    if entry.released:
                        continue
                    if entry.expires > now:
                        kept.append(entry)
                        continue
                    entry.fired = True
                    try:
                        entry.sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                self._entries.extend(kept)
                self._wakes_at = min((e.expires for e in kept), default=float('inf'))
                self._lock.wait(min(self.MAX_SLEEP, max(0.005, self._wakes_at - now)))


_WATCHDOG = _Watchdog()
os.register_at_fork(after_in_child=_WATCHDOG._start_afresh)


def redact_url(url: str) -> str:
    """Drop any user:password from a URL so it can go into messages."""
    if '@' not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return re.sub(r'//[^/@]*@', '//***@', url)
    if '@' not in parts.netloc:
        return url
    host = parts.netloc.rsplit('@', 1)[1]
    return urlunsplit((parts.scheme, '***@' + host, parts.path, parts.query, parts.fragment))


def squash(text: str) -> str:
    """One line, no markup, bounded: how a foreign body is quoted in a message."""
    # Markup only where there is a '<' (every reason phrase a fan-out reads has none).
    title = _TITLE.search(text) if '<' in text else None
    if title and title.group(1).strip():
        text = title.group(1)
    elif '<' in text:
        text = _MARKUP.sub(' ', text)
    text = ' '.join(text.split())
    if len(text) > SERVER_TEXT_MAX_CHARS:
        text = text[:SERVER_TEXT_MAX_CHARS] + '...'
    return text


def _validation_error_text(errors: t.List[t.Any]) -> str:
    """FastAPI's 422 list, one 'location: message' per entry."""
    texts = []
    for error in errors:
        if isinstance(error, dict):
            location = '.'.join(str(part) for part in error.get('loc', ()))
            message = str(error.get('msg', error))
            texts.append('%s: %s' % (location, message) if location else message)
        else:
            texts.append(str(error))
    return '; '.join(texts)


def server_error_text(body: t.Any, text: str) -> str:
    """The server's own explanation from an error reply, whatever its shape."""
    if isinstance(body, dict):
        for field in ERROR_TEXT_FIELDS:
            value = body.get(field)
            if isinstance(value, list) and value:
                return squash(_validation_error_text(value))
            if isinstance(value, str) and value:
                return squash(value)
            if isinstance(value, dict) and value:
                return squash(json.dumps(value, sort_keys=True))
    if isinstance(body, str) and body:
        return squash(body)
    return squash(text)


class Reply:
    """One HTTP answer: status, parsed JSON body (None when not JSON) and raw text."""

    def __init__(self, method: str, url: str, status: int, reason: str, headers: t.Mapping[str, str], data: bytes,
                 prepare: t.Optional[t.Callable[[str], str]] = None) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.reason = reason
        self.headers = headers
        self.text = data.decode('utf-8', errors='replace')
        del data
        try:
            text = prepare(self.text) if prepare and 200 <= status < 300 else self.text
            self.body: t.Any = json.loads(text) if text else None
            del text
            self.is_json = bool(self.text)
        except ValueError:
            self.body = None
            self.is_json = False
        if self.is_json and len(self.text) > LARGE_TEXT_CHARS:
            # A large answer read as JSON is kept once, parsed; its text only serves error messages (cut there anyway).
            self.text = self.text[:LARGE_TEXT_CHARS]

    def json_object(self) -> t.Dict[str, t.Any]:
        """The body as a JSON object; a clear error when the server sent something else."""
        if not isinstance(self.body, dict):
            raise LMCacheError(
                '%s %s: expected a JSON object from an LMCache server, got HTTP %d with %s: %s'
                % (self.method, self.url, self.status, self.headers.get('Content-Type', 'no content type'),
                   squash(self.text) or '(empty body)'))
        return self.body


def retry_after_seconds(value: t.Optional[str]) -> t.Optional[float]:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    import email.utils  # only servers that send a date pay for this import
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_seconds(attempt: int, retry_after: t.Optional[float] = None) -> float:
    """Delay before retry number `attempt` (1-based): the server's Retry-After wins, else jittered backoff."""
    if retry_after is not None:
        return retry_after
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * (2 ** (attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


# What to do after one attempt (next_step): the retry policy, apart from the loop in LMCacheClient.request.
ANSWER = 'answer'  # hand the reply to the caller
FOLLOW = 'follow'  # a read was redirected: follow it (to the same server only)
RETRY = 'retry'  # send the same request again after a backoff
FAIL = 'fail'  # raise: the request was refused, or it cannot have been carried out
UNKNOWN = 'unknown'  # raise OutcomeUnknown: a write may have been carried out; the caller re-reads and reconciles


def next_step(write: bool, attempt: int, attempts: int, accepted: t.AbstractSet[int] = frozenset(),
              reply: t.Optional['Reply'] = None, failure: t.Optional[BaseException] = None) -> str:
    """The step after attempt number `attempt` of `attempts`, from its reply or, when none came, its failure.

    Pure: it reads its arguments only, so tests/unit/plugins/module_utils/test_retry_policy.py checks it as a table.
    """
    if reply is None:
        if isinstance(failure, _NotSent) and failure.fatal:
            return FAIL
        if write and isinstance(failure, _Lost) and failure.sent:
            return UNKNOWN
        return RETRY if attempt < attempts else FAIL
    status = reply.status
    if 200 <= status < 300 or status in accepted:
        return ANSWER
    if 300 <= status < 400:
        # A write is never sent on to where a redirect points: the API key would go with it.
        return FAIL if write else FOLLOW
    refused = _downstream_refused(reply)
    if status in (WRITE_RETRY_STATUSES if write else RETRY_STATUSES) and not refused:
        return RETRY if attempt < attempts else FAIL
    if write and status in (502, 504) and not refused:
        # The gateway lost the server's answer to a write it passed on.
        return UNKNOWN
    return FAIL


def _final_error(step: str, method: str, url: str, attempt: int, reply: t.Optional['Reply'],
                 failure: t.Optional[BaseException], key_withheld: t.Optional[str] = None) -> LMCacheError:
    """The error a FAIL or UNKNOWN step raises: method, URL, status or connection problem, the server's own text."""
    if reply is None:
        if step == UNKNOWN:
            return OutcomeUnknown('%s %s: %s, so it is not known whether the server carried it out' % (method, url, failure))
        return LMCacheError('%s %s failed: %s%s' % (method, url, failure, _after(attempt)))
    if 300 <= reply.status < 400:
        return LMCacheHTTPError(
            '%s %s failed: HTTP %d %s: the server redirects to %s; the request was not carried out. '
            'Point url at the server itself.' % (method, url, reply.status, reply.reason, _location_shown(reply)),
            reply.status)
    error = http_error(reply, attempt, key_withheld)
    if step == UNKNOWN:
        return OutcomeUnknown(str(error) + '; it is not known whether the server carried the request out')
    return error


def _location_shown(reply: 'Reply') -> str:
    """Where a redirect points, for a message: without credentials."""
    return redact_url(reply.headers.get('Location') or '') or '(no Location header)'


class TLSOptions:
    """How to check the server's certificate, and which certificate to show it."""

    def __init__(self, validate_certs: bool = True, ca_path: t.Optional[str] = None, client_cert: t.Optional[str] = None,
                 client_key: t.Optional[str] = None) -> None:
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.client_cert = client_cert
        self.client_key = client_key
        self._context: t.Any = None

    def context(self) -> t.Any:
        """The ssl.SSLContext (built once): our options only, never a CA bundle named in the environment."""
        if self._context is None:
            import ssl
            if self.validate_certs:
                context = ssl.create_default_context(cafile=self.ca_path)
            else:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if self.client_cert:
                context.load_cert_chain(self.client_cert, self.client_key)
            self._context = context
        return self._context


class LMCacheClient:
    """HTTP access to one LMCache server: one kept-alive connection, retries, redirects refused on writes, clear errors."""

    def __init__(
        self,
        base_url: str,
        api_key: t.Optional[str] = None,
        tls: t.Optional[TLSOptions] = None,
        timeout: float = 10.0,
        retries: int = 3,
        deadline: t.Optional[Deadline] = None,
        warn: t.Callable[[str], None] = lambda message: None,
        recorder: t.Any = None,
        proxies: t.Optional[Proxies] = None,
        key_withheld: t.Optional[str] = None,
    ) -> None:
        self.base_url = base_url.rstrip('/')
        self.display_url = redact_url(self.base_url)
        parts = urlsplit(self.base_url)
        self._scheme = parts.scheme
        self._host = parts.hostname or ''
        self._port = parts.port or (443 if parts.scheme == 'https' else 80)
        self._prefix = parts.path.rstrip('/')
        self._host_header = parts.netloc.rsplit('@', 1)[-1]
        route = (proxies or Proxies(os.environ)).route(self._scheme, self._host, self._port)
        self._proxy = route if isinstance(route, Proxy) else None
        # A proxy the environment names for this URL that cannot be used: every request fails, nothing is sent.
        self._unusable_proxy = route.problem if isinstance(route, UnusableProxy) else None
        # Why no API key is sent to this URL although the task has one (None: it is sent, or there is none).
        self.key_withheld = key_withheld if api_key else None
        self.tls = tls or TLSOptions()
        self.timeout = timeout
        self.retries = retries
        self.deadline = deadline or Deadline(max(timeout, 1.0) * (retries + 1) * 2)
        self._warn = warn
        headers = [('Host', self._host_header), ('Accept', 'application/json'), ('Accept-Encoding', 'identity'),
                   ('User-Agent', 'lmcache.kvcache')]
        if api_key and not key_withheld:
            headers.append(('Authorization', 'Bearer %s' % api_key))
        if self._proxy and self._proxy.authorization and self._scheme == 'http':
            headers.append(('Proxy-Authorization', self._proxy.authorization))
        # The header fields every request sends, encoded once. A value no header can carry is refused unshown (the
        # option checks refuse it first; this keeps a request from ever being split).
        if any(_UNSENDABLE.search(value) for _name, value in headers):
            raise LMCacheError('%s: a header value (the API key, or the proxy\'s credentials) holds a character no HTTP '
                               'header can carry; nothing was sent' % self.display_url)
        self._header_fields = ''.join('%s: %s\r\n' % field for field in headers).encode('latin-1')
        self._connection: t.Optional[socket.socket] = None
        # The timeout the kept-alive connection's reads and writes are bounded by.
        self._timeout_set: t.Optional[float] = None
        # The watchdog's entry for the kept-alive connection: watched from its opening to its closing, not per request
        # (its deadline is the task's, the same for every request; a fan-out's threads would take its lock 8 times per node).
        self._watched: t.Optional[_Watched] = None
        # HTTP status of the last request's answer (None: no answer); also set on `recorder`, shared by a task's clients.
        self.last_status: t.Optional[int] = None
        self._recorder = recorder
        self.requests_sent = 0
        # Answers to GETs sent at once (pipelined), by path, each waiting for the request that takes it.
        self._pipelined: t.Dict[str, t.Deque[t.Union[_Answer, Exception]]] = {}
        self._in_pipelined_block = False

    def shown_url(self, path: str) -> str:
        """The URL of a path as messages show it: without credentials (the base URL was redacted once)."""
        return self.display_url + path

    def close(self) -> bool:
        """Close the kept-alive connection; True if the task's deadline had cut it."""
        fired = False
        if self._watched is not None:
            fired = _WATCHDOG.release(self._watched)
            self._watched = None
        if self._connection is not None:
            try:
                self._connection.close()
            except OSError:
                pass
            self._connection = None
        return fired

    # -- one attempt ---------------------------------------------------------------------------------------------

    def _open(self, method: str, url: str, timeout: float) -> socket.socket:
        """The kept-alive connection if the server has not closed it, else a new one. Raises _NotSent or DeadlineExceeded."""
        sock = self._connection
        if sock is not None:
            try:
                readable = select.select([sock], [], [], 0)[0]
            except (OSError, ValueError):
                readable = [True]
            if not readable:
                if timeout != self._timeout_set:
                    self._set_timeout(sock, timeout)
                return sock
            # Readable while idle: the server closed it (or sent what nobody asked for).
            self.close()
        if self._unusable_proxy:
            raise _NotSent(self._unusable_proxy, fatal=True)
        try:
            sock = self._connect(timeout)
        except OSError as exc:
            if isinstance(exc, socket.timeout) and timeout < self.timeout:
                raise DeadlineExceeded('%s %s: no connection before the task deadline of %ss (set deadline to allow more '
                                       'time)' % (method, url, _seconds(self.deadline.seconds)))
            raise _NotSent(_connection_problem(exc, self.display_url, timeout), exc)
        self._connection = sock
        self._set_timeout(sock, timeout)
        self._watched = _WATCHDOG.watch(sock, self.deadline.expires)
        return sock

    def _set_timeout(self, sock: socket.socket, timeout: float) -> None:
        """Bound each read and write of the connection by `timeout`. On plain TCP, by the kernel (SO_RCVTIMEO,
        SO_SNDTIMEO) on a blocking socket: Python's own socket timeout polls before every send and receive, two system
        calls each that let another thread in; a fan-out's 64 threads then spent some 15% more CPU per request. TLS
        sockets, and systems without those options, keep Python's timeout."""
        if self._scheme != 'https':
            seconds = int(timeout)
            # A zero timeval would mean no timeout at all: never less than a microsecond.
            value = _TIMEVAL.pack(seconds, max(0 if seconds else 1, int((timeout - seconds) * 1e6)))
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
                sock.settimeout(None)
                self._timeout_set = timeout
                return
            except (OSError, AttributeError):
                pass
        sock.settimeout(timeout)
        self._timeout_set = timeout

    def _connect(self, timeout: float) -> socket.socket:
        """A new connection: to the server, or to the environment's proxy (through a CONNECT tunnel for https)."""
        address = (self._proxy.host, self._proxy.port) if self._proxy else (self._host, self._port)
        sock = socket.create_connection(address, timeout)
        try:
            # One send per request: no reason to hold a small request back.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._scheme != 'https':
                return sock
            if self._proxy:
                self._tunnel(sock)
            return self.tls.context().wrap_socket(sock, server_hostname=self._host)
        except BaseException:
            sock.close()
            raise

    def _tunnel(self, sock: socket.socket) -> None:
        """Ask the proxy for a tunnel to the server (CONNECT); OSError when it does not open one."""
        authority = '%s:%d' % ('[%s]' % self._host if ':' in self._host else self._host, self._port)
        auth = 'Proxy-Authorization: %s\r\n' % self._proxy.authorization if self._proxy and self._proxy.authorization else ''
        sock.sendall(('CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n' % (authority, authority, auth)).encode('latin-1'))
        try:
            status, reason, _version = _status_line(_Stream(sock).head()[0])
        except (_Closed, _NotHTTP) as exc:
            raise OSError('the proxy opened no tunnel: %s' % exc)
        if not 200 <= status < 300:
            raise OSError('the proxy refused the tunnel: HTTP %d %s' % (status, squash(reason)))

    def _message(self, method: str, url: str, path: str, payload: t.Optional[bytes]) -> bytes:
        """The request's bytes: request line, header fields, body."""
        target = self._prefix + path
        if not _REQUEST_TARGET.match(target):
            raise LMCacheError('%s %s: the request path holds a space, a control or a non-ASCII character; not sent'
                               % (method, url))
        if self._proxy and self._scheme == 'http':
            target = '%s://%s%s' % (self._scheme, self._host_header, target)
        line = ('%s %s HTTP/1.1\r\n' % (method, target)).encode('ascii')
        if payload is not None:
            return b'%s%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s' % (
                line, self._header_fields, len(payload), payload)
        if method in BODY_METHODS:
            return b'%s%sContent-Length: 0\r\n\r\n' % (line, self._header_fields)
        return b'%s%s\r\n' % (line, self._header_fields)

    def _attempt(self, method: str, path: str, payload: t.Optional[bytes], max_bytes: int) -> '_Answer':
        """One request and its whole answer. Raises _NotSent, _Lost, DeadlineExceeded or LMCacheError."""
        if self._pipelined:
            if method != 'GET' or payload is not None:
                # A write: no answer read before it is taken for one after it.
                self._pipelined.clear()
            elif self._pipelined.get(path):
                # Read already, before the deadline or with the failure it met: what this request would have met.
                read = self._pipelined[path].popleft()
                if isinstance(read, Exception):
                    raise read
                if len(read.data) <= max_bytes:
                    return read
        url = self.shown_url(path)
        left = self.deadline.check('%s %s' % (method, url))
        timeout = min(self.timeout, left)
        message = self._message(method, url, path, payload)
        sock = self._open(method, url, timeout)
        sent = False
        try:
            sock.sendall(message)
            sent = True
            stream = _Stream(sock)
            answer = self._answer(stream, method, url, max_bytes, timeout)
        except (OSError, _Closed, _NotHTTP) as exc:
            raise self._failure(exc, method, url, timeout, sent)
        # Bytes past the answer were not asked for: the connection is not used again.
        if not answer.keep_alive or stream.buffer:
            self.close()
        return answer

    def _answer(self, stream: '_Stream', method: str, url: str, max_bytes: int, timeout: float) -> '_Answer':
        """The next whole answer on the connection. Raises OSError, _Closed, _NotHTTP, _TooLarge or DeadlineExceeded."""
        try:
            answer = _receive(stream, method, url, max_bytes)
        except _TooLarge:
            self.close()
            raise
        if self._watched is not None and self._watched.fired:
            # The deadline cut the socket while the answer was being read: what was read is not the whole answer.
            self.close()
            raise DeadlineExceeded('%s %s: no complete answer before the task deadline of %ss (set deadline to allow more time)'
                                   % (method, url, _seconds(self.deadline.seconds)))
        self.requests_sent += 1
        return answer

    def _failure(self, exc: BaseException, method: str, url: str, timeout: float, sent: bool) -> Exception:
        """What a request whose exchange raised `exc` fails with; the connection is closed."""
        # The watchdog cut the socket at the deadline, or the socket's own timeout, which was what was left of
        # the deadline, ran out first: either way the deadline passed, not the server's timeout.
        if self.close() or (_timed_out(exc) and timeout < self.timeout):
            return DeadlineExceeded('%s %s: no complete answer before the task deadline of %ss (set deadline to allow more '
                                    'time)' % (method, url, _seconds(self.deadline.seconds)))
        if _is_tls_error(exc):
            # The server ended the TLS session (e.g. it wants a client certificate): nothing was carried out.
            return _NotSent('TLS error: %s' % (getattr(exc, 'reason', None) or exc), exc)
        return _Lost(_lost_problem(exc, timeout, sent), exc, sent)

    # -- reads sent at once --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def pipelined(self, paths: t.Sequence[str] = ()) -> t.Iterator[None]:
        """Within the block, GET requests of `paths` take the answers of GETs sent at once on entry (HTTP/1.1
        pipelining: one write and one round trip for a read of many routes, instead of one each; uvicorn, which serves
        every LMCache release, answers them in order); send_at_once sends more. Never through a proxy (a forward proxy
        may not pass pipelined requests on). An answer is taken once, by a GET of its path; a write, or the end of the
        block, drops every answer not taken. A failure while reading an answer is that request's own (retried as any
        read's); the requests after it, and any on a path not sent at once, are sent as usual."""
        self._in_pipelined_block = True
        try:
            self.send_at_once(paths)
            yield
        finally:
            self._in_pipelined_block = False
            self._pipelined.clear()

    def send_at_once(self, paths: t.Sequence[str]) -> None:
        """Within a pipelined block, send together the GETs of `paths` whose answers are not already waiting. Outside
        one, nothing: no answer is kept beyond a block."""
        if not self._in_pipelined_block:
            return
        waiting = collections.Counter(dict((path, len(answers)) for path, answers in self._pipelined.items()))
        missing = []
        for path in paths:
            if waiting[path]:
                waiting[path] -= 1
            else:
                missing.append(path)
        if len(missing) > 1 and self._proxy is None:
            self._send_at_once(missing)

    def _send_at_once(self, paths: t.Sequence[str]) -> None:
        first = self.shown_url(paths[0])
        timeout = min(self.timeout, self.deadline.check('GET %s' % first))
        try:
            messages = b''.join(self._message('GET', self.shown_url(path), path, None) for path in paths)
        except LMCacheError:
            # A path no request may carry: each request finds out for itself, as usual.
            return
        try:
            sock = self._open('GET', first, timeout)
        except _NotSent as exc:
            # No connection: the first request's own failure (retried as usual), not met twice.
            self._pipelined.setdefault(paths[0], collections.deque()).append(exc)
            return
        try:
            sock.sendall(messages)
        except OSError as exc:
            self._pipelined.setdefault(paths[0], collections.deque()).append(self._failure(exc, 'GET', first, timeout, False))
            return
        stream = _Stream(sock)
        for path in paths:
            url = self.shown_url(path)
            try:
                read: t.Union[_Answer, Exception] = self._answer(stream, 'GET', url, DEFAULT_MAX_RESPONSE_BYTES, timeout)
            except _TooLarge:
                return
            except DeadlineExceeded as exc:
                read = exc
            except (OSError, _Closed, _NotHTTP) as exc:
                read = self._failure(exc, 'GET', url, timeout, True)
            self._pipelined.setdefault(path, collections.deque()).append(read)
            if isinstance(read, Exception) or not read.keep_alive:
                self.close()
                return
        if stream.buffer:
            self.close()

    # -- the request, with retries -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        json_body: t.Any = None,
        accept: t.Iterable[int] = (),
        raw_body: t.Optional[bytes] = None,
        write: t.Optional[bool] = None,
        max_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        prepare: t.Optional[t.Callable[[str], str]] = None,
    ) -> Reply:
        """Send one request, retrying what next_step says is worth retrying (see the module docstring).

        Any 2xx is a success; statuses in `accept` are answers too (never retried, never raised).
        `write` defaults to true for every method but GET; pass False for a POST that only reads. `raw_body` is a JSON
        body already encoded. `prepare` may cut a successful answer's text down before it is parsed.
        """
        if write is None:
            write = method != 'GET'
        accepted = frozenset(accept)
        payload = raw_body if raw_body is not None else (
            json.dumps(json_body, separators=(',', ':')).encode() if json_body is not None else None)
        attempts = self.retries + 1
        redirects = 0
        attempt = 0
        while True:
            attempt += 1
            url = self.shown_url(path)
            self._record(None)
            reply = failure = None
            try:
                answer = self._attempt(method, path, payload, max_bytes)
            except (_NotSent, _Lost) as exc:
                failure = exc
            except _TooLarge as exc:
                raise LMCacheError(str(exc))
            else:
                reply = Reply(method, url, answer.status, answer.reason, answer.headers, answer.data, prepare)
                self._record(reply.status)
            step = next_step(write, attempt, attempts, accepted, reply=reply, failure=failure)
            if step == ANSWER:
                return t.cast(Reply, reply)
            if step == FOLLOW:
                path = self._follow(t.cast(Reply, reply), redirects)
                redirects += 1
                attempt -= 1
                continue
            if step != RETRY:
                raise _final_error(step, method, url, attempt, reply, failure, self.key_withheld)
            self._wait_to_retry(method, url, attempt, reply, failure)

    def _wait_to_retry(self, method: str, url: str, attempt: int, reply: t.Optional[Reply],
                       failure: t.Optional[BaseException]) -> None:
        """Sleep before the next attempt, or fail now when the wait would pass the task's deadline."""
        retry_after = None
        if reply is not None:
            problem = 'HTTP %d %s' % (reply.status, reply.reason)
            retry_after = retry_after_seconds(reply.headers.get('Retry-After'))
        else:
            problem = str(failure)
        delay = backoff_seconds(attempt, retry_after)
        if delay >= self.deadline.remaining():
            raise DeadlineExceeded(
                '%s %s failed: %s; %s %ss would pass the task deadline of %ss%s'
                % (method, url, problem, 'the server asks to retry after' if retry_after is not None else 'a retry in',
                   _seconds(round(delay, 1)), _seconds(self.deadline.seconds), _after(attempt)))
        self._warn('%s %s: %s; retry %d of %d in %.1fs' % (method, url, problem, attempt, self.retries, delay))
        time.sleep(delay)

    def _record(self, status: t.Optional[int]) -> None:
        self.last_status = status
        if self._recorder is not None:
            self._recorder.last_status = status

    def _follow(self, reply: Reply, redirects: int) -> str:
        """The path to follow a read's redirect to: only to the same server, at most MAX_REDIRECTS times."""
        location = reply.headers.get('Location') or ''
        shown = _location_shown(reply)
        target = urlsplit(location)
        if (target.scheme and target.scheme != self._scheme) or (target.netloc and target.netloc != self._host_header) \
                or not location or redirects >= MAX_REDIRECTS:
            raise LMCacheHTTPError(
                '%s %s failed: HTTP %d %s: the server redirects to %s, which is not followed (only up to %d redirects '
                'to the same server are, so that no API key goes elsewhere). Point url at the server itself.'
                % (reply.method, reply.url, reply.status, reply.reason, shown, MAX_REDIRECTS), reply.status)
        path = target.path or '/'
        if self._prefix and path.startswith(self._prefix):
            path = path[len(self._prefix):] or '/'
        return path + ('?' + target.query if target.query else '')


class _NotSent(Exception):
    """The request never reached the server: safe to send again."""

    def __init__(self, problem: str, cause: t.Optional[BaseException] = None, fatal: bool = False) -> None:
        super().__init__(problem)
        # A TLS failure, or a proxy that cannot be used, will not go away by retrying.
        self.fatal = fatal or (cause is not None and _is_tls_error(cause))


class _Lost(Exception):
    """The connection failed during the exchange; `sent` tells whether the request had gone out."""

    def __init__(self, problem: str, cause: t.Optional[BaseException], sent: bool) -> None:
        super().__init__(problem)
        self.sent = sent


class _TooLarge(LMCacheError):
    pass


class _Closed(Exception):
    """The server closed the connection before its answer was complete."""


class _NotHTTP(Exception):
    """What the server sent is not an HTTP/1.x answer."""


class Headers(t.Dict[str, str]):
    """An answer's header fields by lower-case name (a field sent twice: its values joined by ', '); get() takes any case."""

    def get(self, name: str, default: t.Any = None) -> t.Any:  # type: ignore[override]
        return dict.get(self, name.lower(), default)


class _Answer:
    """One answer as read from the wire."""

    def __init__(self, status: int, reason: str, headers: Headers, data: bytes, keep_alive: bool) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.data = data
        self.keep_alive = keep_alive


class _Stream:
    """The bytes of one answer, read from the socket in blocks as they are needed."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def more(self) -> bool:
        block = self.sock.recv(READ_BLOCK_BYTES)
        self.buffer += block
        return bool(block)

    def head(self) -> t.List[str]:
        """The status line and the header fields, up to the empty line."""
        while True:
            # Lines end with CRLF, or a lone LF, which RFC 9112 2.2 lets a recipient take as one (h11 does).
            end = _HEAD_END.search(self.buffer, 0, MAX_HEAD_BYTES + 4)
            if end is not None:
                break
            if len(self.buffer) >= MAX_HEAD_BYTES + 4:
                raise _NotHTTP('its header is longer than %d bytes' % MAX_HEAD_BYTES)
            if not self.more():
                raise _Closed('the connection closed in the middle of the answer (%d bytes read)' % len(self.buffer)
                              if self.buffer else 'the server closed the connection without answering')
        head = self.buffer[:end.start()].decode('iso-8859-1')
        del self.buffer[:end.end()]
        return _LINE_END.split(head)

    def exactly(self, length: int, read_before: int = 0, expected: t.Optional[int] = None) -> bytes:
        while len(self.buffer) < length:
            if not self.more():
                shown = ' of %d' % expected if expected is not None else ''
                raise _Closed('the connection closed in the middle of the answer (%d%s bytes read)'
                              % (read_before + len(self.buffer), shown))
        data = bytes(self.buffer[:length])
        del self.buffer[:length]
        return data

    def line(self, read_before: int) -> bytes:
        while True:
            end = self.buffer.find(b'\r\n')
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                return line
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise _NotHTTP('a chunk header is longer than %d bytes' % MAX_HEAD_BYTES)
            if not self.more():
                raise _Closed('the connection closed in the middle of the answer (%d bytes read)' % read_before)

    def to_the_end(self, max_bytes: int, method: str, url: str) -> bytes:
        """An answer with neither a length nor chunks: everything up to the server closing the connection."""
        while self.more():
            if len(self.buffer) > max_bytes:
                raise _TooLarge('%s %s: the answer is more than the %d bytes this request accepts; not read further'
                                % (method, url, max_bytes))
        return bytes(self.buffer)


def _status_line(line: str) -> t.Tuple[int, str, str]:
    """(status, reason, version) of 'HTTP/1.1 200 OK'."""
    match = _STATUS_LINE.match(line)
    if not match:
        raise _NotHTTP('the status line is %r' % squash(line)[:100])
    # The reason phrase is the server's own text: it goes into messages, one line and bounded, like its error bodies.
    return int(match.group(2)), squash(match.group(3) or ''), match.group(1)


def _header_fields(lines: t.List[str]) -> Headers:
    headers = Headers()
    for line in _unfolded(lines):
        field = _FIELD_LINE.match(line)
        if not field:
            raise _NotHTTP('a header line is %r' % squash(line)[:100])
        name, value = field.group(1).lower(), field.group(2)
        headers[name] = '%s, %s' % (headers[name], value) if name in headers else value
    if 'content-length' in headers:
        # Sent twice with the same value, it is that value (RFC 9110 8.6); otherwise it must be one number.
        values = set(value.strip() for value in headers['content-length'].split(','))
        text = values.pop() if len(values) == 1 else headers['content-length']
        if not (text.isascii() and text.isdigit()):
            raise _NotHTTP('its Content-Length is %r' % squash(text)[:100])
        headers['content-length'] = text
    # Only chunked: a body in any other coding would be handed on undecoded, as if it were the answer.
    if 'transfer-encoding' in headers and headers['transfer-encoding'].lower() != 'chunked':
        raise _NotHTTP('its Transfer-Encoding is %r; only chunked is read' % squash(headers['transfer-encoding'])[:100])
    return headers


def _unfolded(lines: t.List[str]) -> t.List[str]:
    """The header lines with each obsolete line folding (RFC 9112 5.2: a line that starts with a space or a tab goes on
    the line before) replaced by one space; a first line that starts so is left for the field check to refuse."""
    unfolded: t.List[str] = []
    for line in lines:
        if line[:1] in (' ', '\t') and unfolded:
            unfolded[-1] += ' ' + line.lstrip(' \t')
        else:
            unfolded.append(line)
    return unfolded


def _receive(stream: _Stream, method: str, url: str, max_bytes: int) -> _Answer:
    """The stream's next whole answer (an interim 1xx answer is skipped). Raises _Closed, _NotHTTP, _TooLarge or
    OSError."""
    while True:
        lines = stream.head()
        status, reason, version = _status_line(lines[0])
        headers = _header_fields(lines[1:])
        if not 100 <= status < 200:
            break
    tokens = [token.strip() for token in headers.get('connection', '').lower().split(',')]
    keep_alive = 'keep-alive' in tokens if version < 'HTTP/1.1' else 'close' not in tokens
    if method == 'HEAD' or status in (204, 304):
        data = b''
    elif 'transfer-encoding' in headers:
        data = _chunked(stream, max_bytes, method, url)
    elif 'content-length' in headers:
        length = int(headers['content-length'])
        if length > max_bytes:
            raise _TooLarge('%s %s: the answer is %d bytes, more than the %d this request accepts; not read'
                            % (method, url, length, max_bytes))
        data = stream.exactly(length, expected=length)
    else:
        data = stream.to_the_end(max_bytes, method, url)
        keep_alive = False
    return _Answer(status, reason, headers, data, keep_alive)


def _chunked(stream: _Stream, max_bytes: int, method: str, url: str) -> bytes:
    """A body sent in chunks (Transfer-Encoding: chunked), its trailer fields read and dropped."""
    blocks = []
    size = 0
    while True:
        line = stream.line(size)
        header = _CHUNK_HEADER.match(line)
        if not header:
            raise _NotHTTP('a chunk size is %r' % line[:20])
        length = int(header.group(1), 16)
        if length == 0:
            trailer = []
            while True:
                line = stream.line(size)
                if not line:
                    break
                trailer.append(line.decode('iso-8859-1'))
            # The trailer fields are checked as header fields are, then dropped.
            _header_fields(trailer)
            return b''.join(blocks)
        size += length
        if size > max_bytes:
            raise _TooLarge('%s %s: the answer is more than the %d bytes this request accepts; not read further'
                            % (method, url, max_bytes))
        blocks.append(stream.exactly(length, size - length))
        if stream.exactly(2, size) != b'\r\n':
            raise _NotHTTP('a chunk is longer than its size')


def _is_tls_error(exc: BaseException) -> bool:
    import ssl
    return isinstance(exc, (ssl.SSLError, ssl.CertificateError))


def _connection_problem(exc: BaseException, base_url: str, timeout: float) -> str:
    import ssl
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ('TLS error: the server certificate could not be verified (%s); set ca_path to the CA that signed it'
                % (exc.verify_message or exc.reason or exc))
    if isinstance(exc, (ssl.SSLError, ssl.CertificateError)):
        return 'TLS error: %s' % (getattr(exc, 'reason', None) or exc)
    if isinstance(exc, socket.timeout):
        return 'cannot connect to %s (no connection within %ss)' % (base_url, _seconds(timeout))
    if isinstance(exc, socket.gaierror):
        return 'cannot connect to %s (cannot resolve the host name: %s)' % (base_url, exc.strerror or exc)
    return 'cannot connect to %s (%s)' % (base_url, getattr(exc, 'strerror', None) or exc)


def _timed_out(exc: BaseException) -> bool:
    """A read or write that ran out of time: Python's socket timeout, or the kernel's (EAGAIN on a blocking socket)."""
    return isinstance(exc, (socket.timeout, BlockingIOError))


def _lost_problem(exc: BaseException, timeout: float, sent: bool) -> str:
    if _timed_out(exc):
        return 'no answer within %ss (timeout)' % _seconds(timeout)
    if isinstance(exc, _Closed):
        return str(exc)
    if isinstance(exc, _NotHTTP):
        return 'the answer is not valid HTTP (%s)' % exc
    reason = getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__
    return 'the connection failed %s (%s)' % ('while waiting for the answer' if sent else 'while sending', reason)


def _downstream_refused(reply: Reply) -> bool:
    """A gateway's 502 whose text shows the server behind it answered 4xx: retrying cannot help."""
    if reply.status != 502:
        return False
    return re.search(r"\b4\d\d\b", server_error_text(reply.body, reply.text)) is not None


def _after(attempt: int) -> str:
    return ' (after %d attempts)' % attempt if attempt > 1 else ''


def http_error(reply: Reply, attempt: int = 1, key_withheld: t.Optional[str] = None) -> LMCacheHTTPError:
    """An error for an unaccepted status: method, URL, status and the server's own text; `key_withheld`: why the
    task's API key was not sent to this URL, which a 401 names as the setting to change."""
    server_text = server_error_text(reply.body, reply.text)
    message = '%s %s failed: HTTP %d %s' % (reply.method, reply.url, reply.status, reply.reason)
    if server_text:
        message += ': %s' % server_text
    if reply.status == 401 and key_withheld:
        message += ' (the server requires an API key, which was not sent: %s)' % key_withheld
    elif reply.status == 401:
        message += ' (the server requires a valid API key: set api_key or LMCACHE_API_KEY)'
    if _downstream_refused(reply):
        message += ' (the server behind it refused the request; not retried)'
    return LMCacheHTTPError(message + _after(attempt), reply.status, server_text)
