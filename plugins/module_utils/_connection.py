# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The connection options every module, the fan-out and the inventory take, their checks, and the clients they make.

Nothing here knows AnsibleModule: the checks return problems as sentences, the caller decides how to fail.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import math
import os
import re
import typing as t
from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    Deadline,
    LMCacheClient,
    TLSOptions,
    plain_number,
    redact_url,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._proxy import Proxies

DEFAULT_URL = 'http://127.0.0.1:8080'
MAX_TIMEOUT_SECONDS = 3600.0
MAX_DEADLINE_SECONDS = 86400.0
MAX_RETRIES = 10
DEFAULT_DEADLINE_SECONDS = 120.0

# Merged into every module's argument spec; documented once in the lmcache.kvcache.connection doc fragment.
CONNECTION_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    url=dict(type='str', default=DEFAULT_URL, fallback=(env_fallback, ['LMCACHE_URL'])),
    api_key=dict(type='str', no_log=True, fallback=(env_fallback, ['LMCACHE_API_KEY'])),
    validate_certs=dict(type='bool', default=True),
    ca_path=dict(type='path'),
    client_cert=dict(type='path'),
    client_key=dict(type='path', no_log=False),
    timeout=dict(type='float', default=10.0),
    retries=dict(type='int', default=3),
    deadline=dict(type='float', default=DEFAULT_DEADLINE_SECONDS),
    # False where url came from a coordinator's registry that no networks setting vouches for: no key is sent to it.
    url_vouched=dict(type='bool', default=True),
)
CONNECTION_REQUIRED_BY = dict(client_key=('client_cert',))

# Printable ASCII without spaces: what an HTTP header value can carry unchanged.
_HEADER_SAFE = re.compile(r'^[\x21-\x7e]+$')
_URL_UNSAFE = re.compile(r'[\s\x00-\x1f\x7f]')


def url_problems(option: str, url: t.Optional[str]) -> t.List[str]:
    """What is wrong with an LMCache base URL option, if anything (the URL is shown without credentials)."""
    url = url or ''
    shown = redact_url(url)
    if _URL_UNSAFE.search(url):
        return ['%s must not contain spaces or control characters, got %r' % (option, shown)]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return ['%s is not a valid URL (%s): %r' % (option, exc, shown)]
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return ['%s must be an http:// or https:// URL with a host, got %r' % (option, shown)]
    if port == 0:
        return ['%s has an invalid port: %r' % (option, shown)]
    if parts.username is not None or parts.password is not None:
        return ['%s must not carry credentials (user:password@); LMCache servers take an API key: set api_key '
                '(or LMCACHE_API_KEY) instead' % option]
    if parts.query or parts.fragment:
        return ['%s must not carry a query or fragment, got %r' % (option, shown)]
    return []


def url_secrets(url: t.Optional[str]) -> t.List[str]:
    """Credentials a URL carries, so that they can be masked in every output."""
    match = re.match(r'^[a-zA-Z][a-zA-Z0-9+.-]*://([^/?#@]*)@', url or '')
    if not match:
        return []
    userinfo = match.group(1)
    return [part for part in (userinfo, userinfo.partition(':')[2]) if part]


def api_key_secrets(api_key: t.Optional[str]) -> t.List[str]:
    """The key as given and as sent (stripped), so that no form of it reaches the output."""
    if not api_key:
        return []
    return sorted({api_key, api_key.strip()} - {''})


def clean_api_key(api_key: t.Optional[str]) -> t.Optional[str]:
    """The key as sent: surrounding whitespace (a key file's newline) removed; None when empty."""
    if api_key is None:
        return None
    return api_key.strip() or None


def _number_problems(option: str, value: t.Any, low_exclusive: float, high: float) -> t.List[str]:
    if value is None:
        return []
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return ['%s must be a finite number of seconds, got %s' % (option, value)]
    if not low_exclusive < value <= high:
        return ['%s must be greater than %s and at most %s seconds, got %s' % (option, plain_number(low_exclusive), plain_number(high), value)]
    return []


def connection_problems(params: t.Mapping[str, t.Any], url_options: t.Iterable[str] = ('url',)) -> t.List[str]:
    """Everything wrong with the connection options, found before any request is sent."""
    problems: t.List[str] = []
    for option in url_options:
        if params.get(option) is not None or option == 'url':
            problems += url_problems(option, params.get(option))
    api_key = params.get('api_key')
    if api_key is not None and api_key.strip() and not _HEADER_SAFE.match(api_key.strip()):
        # Never quote the key: a message is output.
        problems.append('api_key contains characters an HTTP header cannot carry (spaces inside, control or non-ASCII '
                        'characters); the key is not shown. Check how it was read (a file, a vault, an environment variable)')
    problems += _number_problems('timeout', params.get('timeout'), 0, MAX_TIMEOUT_SECONDS)
    problems += _number_problems('deadline', params.get('deadline'), 0, MAX_DEADLINE_SECONDS)
    retries = params.get('retries')
    if retries is not None and not 0 <= retries <= MAX_RETRIES:
        problems.append('retries must be from 0 to %d, got %s' % (MAX_RETRIES, retries))
    for option in ('ca_path', 'client_cert', 'client_key'):
        path = params.get(option)
        if path and not os.path.isfile(path):
            problems.append('%s %s does not exist or is not a file' % (option, path))
    if not problems and params.get('client_cert'):
        problems += _client_certificate_problems(params)
    return problems


def _client_certificate_problems(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """A client certificate or key that cannot be loaded fails before any request."""
    import ssl
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(params['client_cert'], params.get('client_key'))
    except (ssl.SSLError, OSError) as exc:
        return ['client_cert %s (with client_key %s) cannot be loaded: %s'
                % (params['client_cert'], params.get('client_key') or '(none: the key is in client_cert)',
                   getattr(exc, 'reason', None) or exc)]
    return []


def tls_options(params: t.Mapping[str, t.Any]) -> TLSOptions:
    return TLSOptions(validate_certs=params.get('validate_certs', True), ca_path=params.get('ca_path'),
                      client_cert=params.get('client_cert'), client_key=params.get('client_key'))


class Connector:
    """Makes clients that share one task's options, TLS context, proxy settings and deadline."""

    def __init__(self, params: t.Mapping[str, t.Any], warn: t.Callable[[str], None] = lambda message: None,
                 deadline: t.Optional[Deadline] = None, proxies: t.Optional[Proxies] = None) -> None:
        self.api_key = clean_api_key(params.get('api_key'))
        self.tls = tls_options(params)
        self.timeout = float(params.get('timeout') or 10.0)
        self.retries = int(params.get('retries') if params.get('retries') is not None else 3)
        self.deadline = deadline or Deadline(float(params.get('deadline') or DEFAULT_DEADLINE_SECONDS))
        self.warn = warn
        # The environment's proxies, read once (a fan-out's endpoints share them): the task's environment, as the
        # module on a host would see it.
        self.proxies = proxies or Proxies(os.environ)
        # The HTTP status of the last request any of these clients made (None: it got no answer).
        self.last_status: t.Optional[int] = None

    def client(self, url: str, keyless: bool = False, key_withheld: t.Optional[str] = None) -> LMCacheClient:
        """A client of `url` with the task's options. `keyless`: without the API key (what anyone could do);
        `key_withheld`: without it because the address is not vouched for, which a 401 then says."""
        return LMCacheClient(url, api_key=None if keyless else self.api_key, tls=self.tls, timeout=self.timeout,
                             retries=self.retries, deadline=self.deadline, warn=self.warn, recorder=self,
                             proxies=self.proxies, key_withheld=key_withheld)
