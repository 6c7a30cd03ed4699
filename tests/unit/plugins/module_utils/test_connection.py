# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection options' checks: every bad value is a sentence naming the option, never a traceback."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import (
    api_key_secrets,
    clean_api_key,
    connection_problems,
    url_secrets,
)

GOOD = dict(url='http://127.0.0.1:8080', api_key=None, validate_certs=True, ca_path=None, client_cert=None,
            client_key=None, timeout=10.0, retries=3, deadline=120.0)


def problems(**changes):
    return '; '.join(connection_problems(dict(GOOD, **changes), url_options=('url', 'coordinator_url')))


def test_good_options_have_no_problems():
    assert problems() == ''
    assert problems(url='https://[::1]:8443/lmcache', coordinator_url='http://coordinator:9300', api_key='abc-123_X.y') == ''


@pytest.mark.parametrize('changes, problem', [
    (dict(url='http://[::1'), "url is not a valid URL (Invalid IPv6 URL): 'http://[::1'"),
    (dict(url='127.0.0.1:8080'), 'url must be an http:// or https:// URL with a host'),
    (dict(url='ftp://h'), 'url must be an http:// or https:// URL with a host'),
    (dict(url='http://'), 'url must be an http:// or https:// URL with a host'),
    (dict(url='http://bad host:8080'), "url must not contain spaces or control characters, got 'http://bad host:8080'"),
    (dict(url='http://h:8080/a path'), 'url must not contain spaces or control characters'),
    (dict(url='http://h:8080/\n'), 'url must not contain spaces or control characters'),
    (dict(url='http://h:99999'), 'url is not a valid URL (Port out of range 0-65535)'),
    (dict(url='http://h:port'), 'url is not a valid URL'),
    (dict(url='http://h:0'), 'url has an invalid port'),
    (dict(url='http://h:8080/?x=1'), 'url must not carry a query or fragment'),
    (dict(url='http://admin:hunter2@h:8080'), 'url must not carry credentials (user:password@); LMCache servers take an API key'),
    (dict(coordinator_url='coordinator:9300'), 'coordinator_url must be an http:// or https:// URL with a host'),
    (dict(timeout=0.0), 'timeout must be greater than 0 and at most 3600 seconds, got 0.0'),
    (dict(timeout=-1.0), 'timeout must be greater than 0 and at most 3600 seconds'),
    (dict(timeout=float('nan')), 'timeout must be a finite number of seconds, got nan'),
    (dict(timeout=float('inf')), 'timeout must be a finite number of seconds, got inf'),
    (dict(timeout=86400.0), 'timeout must be greater than 0 and at most 3600 seconds, got 86400.0'),
    (dict(deadline=0.0), 'deadline must be greater than 0 and at most 86400 seconds'),
    (dict(deadline=float('inf')), 'deadline must be a finite number of seconds, got inf'),
    (dict(retries=-1), 'retries must be from 0 to 10, got -1'),
    (dict(retries=1000), 'retries must be from 0 to 10, got 1000'),
    (dict(ca_path='/nonexistent/ca.pem'), 'ca_path /nonexistent/ca.pem does not exist or is not a file'),
    (dict(client_cert='/nonexistent/c.pem'), 'client_cert /nonexistent/c.pem does not exist or is not a file'),
    (dict(api_key='key with spaces'), 'api_key contains characters an HTTP header cannot carry'),
    (dict(api_key='kéy'), 'api_key contains characters an HTTP header cannot carry'),
    (dict(api_key='k\x00ey'), 'api_key contains characters an HTTP header cannot carry'),
    (dict(api_key='line1\nline2'), 'api_key contains characters an HTTP header cannot carry'),
])
def test_bad_options_are_named(changes, problem):
    assert problem in problems(**changes)


@pytest.mark.parametrize('key', ['key with spaces', 'kéy-s3cret', 'line1\ns3cret'])
def test_a_refused_key_is_never_quoted(key):
    text = problems(api_key=key)
    assert 'api_key' in text and key not in text and 's3cret' not in text


def test_a_client_certificate_that_cannot_be_loaded_is_named(tmp_path):
    cert = tmp_path / 'client.pem'
    cert.write_text('not a certificate')
    assert 'client_cert %s (with client_key (none: the key is in client_cert)) cannot be loaded' % cert in problems(client_cert=str(cert))


def test_a_key_file_newline_is_removed_and_every_form_is_secret():
    assert clean_api_key('s3cret\n') == 's3cret'
    assert clean_api_key('  ') is None and clean_api_key(None) is None
    assert api_key_secrets('s3cret\n') == ['s3cret', 's3cret\n']
    assert problems(api_key='s3cret\n') == ''


def test_credentials_in_a_url_are_secrets():
    assert sorted(url_secrets('http://admin:hunter2@h:1')) == ['admin:hunter2', 'hunter2']
    assert url_secrets('http://h:1') == []
