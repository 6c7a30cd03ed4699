# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which requests go through the environment's proxy: no_proxy in every form curl, requests and Go read (host names,
.suffix, *, IPv4 and IPv6 addresses, CIDR blocks, with and without a port), and proxy URLs this client cannot use.
The addresses are local ones (127.0.0.0/8, ::1, 0.0.0.0) and documentation names that never resolve here."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient, LMCacheError
from ansible_collections.lmcache.kvcache.plugins.module_utils._proxy import Proxies, Proxy, UnusableProxy
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer

PROXY = 'http://127.0.0.1:3128'


def port(server) -> int:
    return int(server.url.rsplit(':', 1)[1])


# no_proxy, the URL's host and port, whether it goes directly (True) or through the proxy (False).
TABLE = [
    # host names: the name and the names under it, never a name that only ends the same way
    ('node.example', 'node.example', 8080, True),
    ('node.example', 'a.node.example', 8080, True),
    ('node.example', 'badnode.example', 8080, False),
    ('NODE.example', 'node.EXAMPLE', 8080, True),
    ('node.example', 'node.example.', 8080, True),
    # .suffix and *.suffix: the names under it, and the name itself (as curl and requests read it)
    ('.example', 'gpu-1.example', 8080, True),
    ('.example', 'example', 8080, True),
    ('*.example', 'gpu-1.example', 8080, True),
    ('.example', 'example.other', 8080, False),
    # * alone: nothing is proxied
    ('*', 'gpu-1.example', 8080, True),
    ('other.example, *', '0.0.0.0', 8080, True),
    # IPv4 addresses and CIDR blocks
    ('0.0.0.0', '0.0.0.0', 8080, True),
    ('0.0.0.1', '0.0.0.0', 8080, False),
    ('0.0.0.0/8', '0.0.0.0', 8080, True),
    ('0.0.0.0/8', '0.255.0.1', 8080, True),
    ('0.0.0.0/32', '0.0.0.1', 8080, False),
    ('localhost,0.0.0.0/8', '0.0.0.0', 9300, True),
    ('0.0.0.0/8', 'gpu-1.example', 8080, False),
    # IPv6 addresses and CIDR blocks, with and without brackets ([::1] and 127.0.0.1 are loopback: never proxied)
    ('::2', '::2', 8080, True),
    ('[::2]', '::2', 8080, True),
    ('::/126', '::2', 8080, True),
    ('::/127', '::2', 8080, False),
    ('0.0.0.0/0', '::2', 8080, False),
    # with a port: only that port
    ('node.example:8080', 'node.example', 8080, True),
    ('node.example:8080', 'node.example', 8081, False),
    ('0.0.0.0:8080', '0.0.0.0', 8080, True),
    ('0.0.0.0:8080', '0.0.0.0', 9300, False),
    ('[::2]:8080', '::2', 8080, True),
    ('[::2]:8080', '::2', 8081, False),
    ('.example:8080', 'gpu-1.example', 8080, True),
    # separators and blanks: commas, spaces, empty entries
    (' node.example ,, other.example ', 'other.example', 8080, True),
    ('node.example other.example', 'other.example', 8080, True),
    ('', 'node.example', 8080, False),
    # loopback, whatever no_proxy says
    ('', '127.0.0.1', 8080, True),
    ('', '127.3.2.1', 8080, True),
    ('', '::1', 8080, True),
    ('', 'localhost', 8080, True),
    ('', '0.0.0.0', 8080, False),
]


@pytest.mark.parametrize('no_proxy, host, port, direct', TABLE)
def test_no_proxy_reads_each_form_as_curl_requests_and_go_do(no_proxy: str, host: str, port: int, direct: bool) -> None:
    route = Proxies({'http_proxy': PROXY, 'no_proxy': no_proxy}).route('http', host, port)
    assert (route is None) == direct
    if not direct:
        assert isinstance(route, Proxy) and (route.host, route.port) == ('127.0.0.1', 3128)


@pytest.mark.parametrize('environ, scheme, expected', [
    # lower case wins; upper case is read when the lower-case variable is not set
    ({'http_proxy': 'http://127.0.0.2:1', 'HTTP_PROXY': 'http://127.0.0.3:1'}, 'http', '127.0.0.2'),
    ({'HTTP_PROXY': 'http://127.0.0.3:1'}, 'http', '127.0.0.3'),
    ({'HTTPS_PROXY': 'http://127.0.0.4:1'}, 'https', '127.0.0.4'),
    ({'http_proxy': 'http://127.0.0.2:1'}, 'https', None),
    # a proxy without a scheme is an http:// one
    ({'http_proxy': '127.0.0.5:3128'}, 'http', '127.0.0.5'),
    # NO_PROXY is read where no_proxy is not set
    ({'http_proxy': 'http://127.0.0.2:1', 'NO_PROXY': '.example'}, 'http', None),
])
def test_the_variables_are_read_in_the_conventional_order(environ: dict, scheme: str, expected: str) -> None:
    route = Proxies(environ).route(scheme, 'gpu-1.example', 8080)
    assert (route.host if isinstance(route, Proxy) else route) == expected


@pytest.mark.parametrize('proxy', ['https://127.0.0.1:3129', 'socks5://127.0.0.1:1080', 'http://[127.0.0.1:3128'])
def test_a_proxy_this_client_cannot_use_is_refused_with_the_reason(proxy: str) -> None:
    route = Proxies({'http_proxy': proxy}).route('http', 'gpu-1.example', 8080)
    assert isinstance(route, UnusableProxy)
    assert 'http_proxy' in route.problem


def test_a_request_that_would_go_through_an_https_proxy_fails_before_anything_is_sent(fake_server) -> None:
    fake_server.on('GET', '/status', Answer(200, {}))
    client = LMCacheClient('http://0.0.0.0:%d' % port(fake_server), retries=3,
                           proxies=Proxies({'http_proxy': 'https://ops:pw@127.0.0.1:%d' % port(fake_server)}))
    with pytest.raises(LMCacheError) as caught:
        client.request('GET', '/status')
    message = str(caught.value)
    assert message.startswith('GET http://0.0.0.0:%d/status failed: http_proxy names the proxy https://127.0.0.1:%d, '
                              'which this client cannot use' % (port(fake_server), port(fake_server)))
    # Not retried, nothing sent to the proxy, and its password is not in the message.
    assert '(after' not in message and 'pw' not in message
    assert fake_server.requests == []


def test_a_node_in_a_no_proxy_block_is_reached_directly_and_the_proxy_sees_nothing(fake_server) -> None:
    fake_server.on('GET', '/status', Answer(200, {'direct': True}))
    proxy = '127.0.0.1:9'
    environ = {'http_proxy': 'http://%s' % proxy, 'no_proxy': 'localhost,0.0.0.0/8'}
    client = LMCacheClient('http://0.0.0.0:%d' % port(fake_server), api_key='k', proxies=Proxies(environ))
    assert client.request('GET', '/status').body == {'direct': True}
    # Sent to the node itself, in origin form: no proxy's absolute URL.
    assert fake_server.requests[0]['target'] == '/status'
