# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which proxy, if any, a request goes through: the environment's http_proxy, https_proxy and no_proxy, read by the
conventions curl, requests and Go share, once per task.

no_proxy is a list separated by commas (or spaces) of:
- `*`: no request goes through a proxy;
- a host name, `example.com`: that host and every name under it (`a.example.com`); `.example.com` and
  `*.example.com` the same (as curl and requests read them);
- an IPv4 or IPv6 address (`10.0.0.7`, `::1`, `[::1]`): that address;
- a CIDR block (`10.0.0.0/8`, `fd00::/8`): every address in it, as curl (7.86 and later), requests and Go read it;
- any of these with `:port`: only URLs with that port.
Host names are compared as written, never resolved: a name is not in a CIDR block even if it resolves into one.
Loopback (localhost, 127.0.0.0/8, ::1) is never proxied, where LMCache's API listens by default (as Go does).

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import base64
import ipaddress
import typing as t
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset(('localhost', 'localhost.localdomain'))
_Network = t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def ip_of(host: str) -> t.Optional[t.Union[ipaddress.IPv4Address, ipaddress.IPv6Address]]:
    """The address a URL's host is, when it is one (brackets and an IPv6 zone removed)."""
    text = host[1:-1] if host.startswith('[') and host.endswith(']') else host
    try:
        return ipaddress.ip_address(text.split('%', 1)[0])
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    address = ip_of(host)
    return address.is_loopback if address is not None else host.lower().rstrip('.') in LOOPBACK_NAMES


class Proxy:
    """A proxy to send requests through: its address, its credentials as a Proxy-Authorization value, and the URL it
    was named by (credentials removed), for messages."""

    def __init__(self, host: str, port: int, authorization: t.Optional[str], shown: str) -> None:
        self.host = host
        self.port = port
        self.authorization = authorization
        self.shown = shown


class UnusableProxy:
    """A proxy the environment names for a URL that this client cannot use (an https:// or socks proxy): requests
    to that URL fail saying so, before anything is sent, rather than bypass the proxy the operator set."""

    def __init__(self, problem: str) -> None:
        self.problem = problem


class _Entry:
    """One no_proxy entry: a network, an address, or a name with the names under it; optionally one port."""

    def __init__(self, text: str) -> None:
        self.port: t.Optional[int] = None
        self.network: t.Optional[_Network] = None
        self.name: t.Optional[str] = None
        host = text
        if host.startswith('['):
            # [v6] or [v6]:port
            inside, _bracket, rest = host[1:].partition(']')
            host = inside
            if rest.startswith(':') and rest[1:].isdigit():
                self.port = int(rest[1:])
        elif host.count(':') == 1:
            name, _colon, port = host.partition(':')
            if port.isdigit():
                host, self.port = name, int(port)
        try:
            self.network = ipaddress.ip_network(host.split('%', 1)[0], strict=False)
            return
        except ValueError:
            pass
        if host.startswith('*.'):
            host = host[1:]
        self.name = host.lstrip('.').rstrip('.').lower()

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            address = ip_of(host)
            return address is not None and address.version == self.network.version and address in self.network
        name = host.lower().rstrip('.')
        return bool(self.name) and (name == self.name or name.endswith('.' + t.cast(str, self.name)))


class Proxies:
    """The proxy settings of an environment (os.environ, or a task's environment over it), read once."""

    def __init__(self, environ: t.Mapping[str, str]) -> None:
        self._urls = dict((scheme, _first(environ, '%s_proxy' % scheme)) for scheme in ('http', 'https'))
        no_proxy = _first(environ, 'no_proxy') or ''
        entries = [e.strip() for e in no_proxy.replace(' ', ',').split(',') if e.strip()]
        self._bypass_all = '*' in entries
        self._entries = [_Entry(e) for e in entries if e != '*']

    def bypassed(self, host: str, port: int) -> bool:
        """Whether a URL to this host and port goes to it directly, by no_proxy or because it is loopback."""
        return self._bypass_all or is_loopback(host) or any(entry.matches(host, port) for entry in self._entries)

    def route(self, scheme: str, host: str, port: int) -> t.Union[None, Proxy, UnusableProxy]:
        """The proxy for a URL: None (directly), the proxy to use, or the one that cannot be used, and why."""
        url = self._urls.get(scheme)
        if not url or self.bypassed(host, port):
            return None
        name = '%s_proxy' % scheme
        try:
            parts = urlsplit(url if '://' in url else 'http://' + url)
        except ValueError:
            return UnusableProxy('%s is not a valid proxy URL' % name)
        shown = '%s://%s' % (parts.scheme, parts.netloc.rsplit('@', 1)[-1])
        if parts.scheme != 'http':
            return UnusableProxy('%s names the proxy %s, which this client cannot use: it speaks to proxies over plain '
                                 'HTTP only (an https:// request still goes through it end to end encrypted, in a '
                                 'CONNECT tunnel). Name it as http://, or leave this host out with no_proxy'
                                 % (name, shown))
        try:
            port_number = parts.port or 80
        except ValueError:
            return UnusableProxy('%s is not a valid proxy URL: %s' % (name, shown))
        if not parts.hostname:
            return UnusableProxy('%s is not a valid proxy URL: %s' % (name, shown))
        authorization = None
        if parts.username is not None:
            credentials = ('%s:%s' % (parts.username, parts.password or '')).encode()
            authorization = 'Basic ' + base64.b64encode(credentials).decode()
        return Proxy(parts.hostname, port_number, authorization, shown)


def _first(environ: t.Mapping[str, str], name: str) -> t.Optional[str]:
    """The lower-case variable, else the upper-case one (curl, requests and Go all read both for these)."""
    value = environ.get(name)
    if value is None:
        value = environ.get(name.upper())
    return value.strip() if value else None
