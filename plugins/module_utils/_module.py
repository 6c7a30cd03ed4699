# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What every lmcache.kvcache module shares: connection options, their checks, and the run wrapper.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import os
import typing as t
from urllib.parse import urlsplit

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.lmcache.kvcache.plugins.module_utils._api import LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import (
    TARGET_ARGUMENT_SPEC,
    TARGET_MUTUALLY_EXCLUSIVE,
    TARGET_REQUIRED_BY,
    TARGET_REQUIRED_ONE_OF,
    target_problems,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    LMCacheClient,
    LMCacheError,
    redact_url,
)

DEFAULT_URL = 'http://127.0.0.1:8080'

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
)

CONNECTION_REQUIRED_BY = dict(client_key=('client_cert',))


def url_problems(option: str, url: t.Optional[str]) -> t.List[str]:
    """What is wrong with an LMCache base URL option, if anything."""
    url = url or ''
    parts = urlsplit(url)
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return ['%s must be an http:// or https:// URL with a host, got %r' % (option, redact_url(url))]
    try:
        parts.port  # pylint: disable=pointless-statement
    except ValueError:
        return ['%s has an invalid port: %r' % (option, redact_url(url))]
    if parts.query or parts.fragment:
        return ['%s must not carry a query or fragment, got %r' % (option, redact_url(url))]
    return []


def connection_problems(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """Everything wrong with the connection options, found before any request is sent."""
    problems = url_problems('url', params['url'])
    if params['timeout'] <= 0:
        problems.append('timeout must be greater than 0 seconds, got %s' % params['timeout'])
    if params['retries'] < 0:
        problems.append('retries must be 0 or more, got %s' % params['retries'])
    for option in ('ca_path', 'client_cert', 'client_key'):
        path = params.get(option)
        if path and not os.path.isfile(path):
            problems.append('%s %s does not exist or is not a file' % (option, path))
    return problems


def new_module(
    argument_spec: t.Mapping[str, t.Any],
    supports_check_mode: bool = True,
    target: t.Optional[str] = None,
    **kwargs: t.Any,
) -> AnsibleModule:
    """An AnsibleModule with the connection options merged in and checked; fails before any request if they are bad.

    target: None for instance-wide modules; 'required' or 'optional' to take the per-request target options.
    """
    spec = dict(CONNECTION_ARGUMENT_SPEC)
    required_by = dict(CONNECTION_REQUIRED_BY)
    if target:
        spec.update(TARGET_ARGUMENT_SPEC)
        required_by.update(TARGET_REQUIRED_BY)
        kwargs['mutually_exclusive'] = TARGET_MUTUALLY_EXCLUSIVE + kwargs.get('mutually_exclusive', [])
        if target == 'required':
            kwargs['required_one_of'] = TARGET_REQUIRED_ONE_OF + kwargs.get('required_one_of', [])
    spec.update(argument_spec)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, required_by=required_by, **kwargs)
    if not HAS_REQUESTS:
        module.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
    problems = connection_problems(module.params)
    if target:
        problems += target_problems(module.params)
        if module.params['token_ids'] is not None:
            problems += url_problems('coordinator_url', module.params['coordinator_url'])
    if problems:
        module.fail_json(msg='; '.join(problems))
    return module


def client_for(module: AnsibleModule, url: str) -> LMCacheClient:
    """A client for `url` with the module's connection options (key, TLS, timeout, retries)."""
    params = module.params
    return LMCacheClient(
        url,
        api_key=params['api_key'],
        validate_certs=params['validate_certs'],
        ca_path=params['ca_path'],
        client_cert=params['client_cert'],
        client_key=params['client_key'],
        timeout=params['timeout'],
        retries=params['retries'],
        warn=module.warn,
    )


def connect(module: AnsibleModule) -> LMCacheServer:
    """The server named by the module's connection options; nothing is sent until it is used."""
    return LMCacheServer(client_for(module, module.params['url']))


def run_module(
    argument_spec: t.Mapping[str, t.Any],
    run: t.Callable[[AnsibleModule, LMCacheServer], t.Dict[str, t.Any]],
    **kwargs: t.Any,
) -> None:
    """Build the module (see new_module for kwargs), run `run`, and turn expected failures into a clean fail_json."""
    module = new_module(argument_spec, **kwargs)
    server = connect(module)
    try:
        result = run(module, server)
    except LMCacheError as exc:
        module.fail_json(msg=str(exc), url=server.url, status=getattr(exc, 'status', server.client.last_status),
                         api_generation=server.known_generation_name)
    result.setdefault('status', server.client.last_status)
    module.exit_json(**result)
