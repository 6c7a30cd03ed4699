# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one HTTP client every module uses to talk to LMCache servers.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import time
import traceback
import typing as t
from urllib.parse import urlsplit, urlunsplit

try:
    import requests
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR: t.Optional[str] = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None


RETRY_STATUSES = frozenset((429, 502, 503, 504))
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 30.0
# A Retry-After longer than this is cut short: a task should not hang for minutes.
RETRY_AFTER_MAX_SECONDS = 60.0
SERVER_TEXT_MAX_CHARS = 300
# Fields LMCache and FastAPI put their error text in, by route and generation, in the order read.
ERROR_TEXT_FIELDS = ('detail', 'error', 'message', 'reason')


class LMCacheError(Exception):
    """An expected failure: the message is complete and safe to show to the user."""


class LMCacheHTTPError(LMCacheError):
    """The server answered with a status the caller did not accept."""

    def __init__(self, message: str, status: int, server_text: str = '') -> None:
        super().__init__(message)
        self.status = status
        self.server_text = server_text


def redact_url(url: str) -> str:
    """Drop any user:password from a URL so it can go into messages."""
    parts = urlsplit(url)
    if '@' not in parts.netloc:
        return url
    host = parts.netloc.rsplit('@', 1)[1]
    return urlunsplit((parts.scheme, '***@' + host, parts.path, parts.query, parts.fragment))


def _squash(text: str) -> str:
    """One line, no markup, bounded: how a foreign body is quoted in a message."""
    title = re.search(r'<title[^>]*>(.*?)</title>', text, re.IGNORECASE | re.DOTALL)
    if title and title.group(1).strip():
        text = title.group(1)
    else:
        text = re.sub(r'<[^>]+>', ' ', text)
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
                return _validation_error_text(value)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, dict) and value:
                return json.dumps(value, sort_keys=True)
    if isinstance(body, str) and body:
        return body
    return _squash(text)


class Reply:
    """One HTTP answer: status, parsed JSON body (None when not JSON) and raw text."""

    def __init__(self, method: str, url: str, status: int, reason: str, headers: t.Mapping[str, str], text: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.reason = reason
        self.headers = headers
        self.text = text
        try:
            self.body: t.Any = json.loads(text) if text else None
            self.is_json = bool(text)
        except ValueError:
            self.body = None
            self.is_json = False

    def json_object(self) -> t.Dict[str, t.Any]:
        """The body as a JSON object; a clear error when the server sent something else."""
        if not isinstance(self.body, dict):
            raise LMCacheError(
                '%s %s: expected a JSON object from an LMCache server, got HTTP %d with %s: %s'
                % (self.method, self.url, self.status, self.headers.get('Content-Type', 'no content type'),
                   _squash(self.text) or '(empty body)'))
        return self.body


def _retry_after_seconds(value: t.Optional[str]) -> t.Optional[float]:
    """Retry-After as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_seconds(attempt: int, retry_after: t.Optional[float] = None) -> float:
    """Delay before retry number `attempt` (1-based): the server's Retry-After wins, else jittered backoff."""
    if retry_after is not None:
        return min(retry_after, RETRY_AFTER_MAX_SECONDS)
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * (2 ** (attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)


class LMCacheClient:
    """HTTP access to one LMCache server: one session, retries, redirects refused on writes, clear errors."""

    def __init__(
        self,
        base_url: str,
        api_key: t.Optional[str] = None,
        validate_certs: bool = True,
        ca_path: t.Optional[str] = None,
        client_cert: t.Optional[str] = None,
        client_key: t.Optional[str] = None,
        timeout: float = 10.0,
        retries: int = 3,
        warn: t.Callable[[str], None] = lambda message: None,
    ) -> None:
        self.base_url = base_url.rstrip('/')
        self.display_url = redact_url(self.base_url)
        self.timeout = timeout
        self.retries = retries
        self._warn = warn
        # HTTP status of the last answer received; every module result reports it.
        self.last_status: t.Optional[int] = None
        self.session = requests.Session()
        self.session.headers['Accept'] = 'application/json'
        if api_key:
            self.session.headers['Authorization'] = 'Bearer %s' % api_key
        self.session.verify = ca_path if (validate_certs and ca_path) else validate_certs
        if client_cert:
            self.session.cert = (client_cert, client_key) if client_key else client_cert

    def url_for(self, path: str) -> str:
        return self.base_url + path

    def request(
        self,
        method: str,
        path: str,
        json_body: t.Any = None,
        accept: t.Iterable[int] = (),
    ) -> Reply:
        """Send one request, retrying what is worth retrying.

        Any 2xx is a success; statuses in `accept` are answers too (never retried, never raised).
        """
        url = self.url_for(path)
        shown_url = redact_url(url)
        accepted = frozenset(accept)
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            retry_after = None
            self.last_status = None
            try:
                response = self.session.request(
                    method, url, json=json_body, timeout=self.timeout,
                    # Reads may follow a redirect; a write that is redirected has not been done.
                    allow_redirects=(method == 'GET'))
            except requests.exceptions.SSLError as exc:
                raise LMCacheError('%s %s failed: TLS error: %s' % (method, shown_url, exc))
            except requests.exceptions.Timeout:
                problem = 'no answer within %ss (timeout)' % self.timeout
            except requests.exceptions.ConnectionError as exc:
                problem = 'cannot connect to %s (%s)' % (redact_url(self.base_url), _connection_reason(exc))
            except requests.exceptions.RequestException as exc:
                raise LMCacheError('%s %s failed: %s' % (method, shown_url, exc))
            else:
                reply = Reply(method, shown_url, response.status_code, response.reason or '',
                              response.headers, response.text)
                self.last_status = reply.status
                if 200 <= reply.status < 300 or reply.status in accepted:
                    return reply
                if 300 <= reply.status < 400:
                    raise LMCacheHTTPError(
                        '%s %s failed: HTTP %d %s: the server redirects to %s; the request was not carried out. '
                        'Point url at the server itself.'
                        % (method, shown_url, reply.status, reply.reason,
                           redact_url(response.headers.get('Location', '(no Location header)'))),
                        reply.status)
                if reply.status not in RETRY_STATUSES or attempt == attempts:
                    raise http_error(reply, attempt)
                problem = 'HTTP %d %s' % (reply.status, reply.reason)
                retry_after = _retry_after_seconds(response.headers.get('Retry-After'))
            if attempt == attempts:
                raise LMCacheError('%s %s failed: %s%s' % (method, shown_url, problem, _after(attempt)))
            delay = backoff_seconds(attempt, retry_after)
            self._warn('%s %s: %s; retry %d of %d in %.1fs' % (method, shown_url, problem, attempt, self.retries, delay))
            time.sleep(delay)
        raise AssertionError('unreachable')  # pragma: no cover


def _after(attempt: int) -> str:
    return ' (after %d attempts)' % attempt if attempt > 1 else ''


def _connection_reason(exc: Exception) -> str:
    """The innermost reason of a connection failure, e.g. 'Connection refused'."""
    text = str(exc)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1).strip()
    match = re.search(r'(Failed to resolve [^(]+|Name or service not known|Connection refused|Connection reset by peer)', text)
    return match.group(1).strip() if match else _squash(text)


def http_error(reply: Reply, attempt: int = 1) -> LMCacheHTTPError:
    """An error for an unaccepted status: method, URL, status and the server's own text."""
    server_text = server_error_text(reply.body, reply.text)
    message = '%s %s failed: HTTP %d %s' % (reply.method, reply.url, reply.status, reply.reason)
    if server_text:
        message += ': %s' % server_text
    if reply.status == 401:
        message += ' (the server requires a valid API key: set api_key or LMCACHE_API_KEY)'
    return LMCacheHTTPError(message + _after(attempt), reply.status, server_text)
