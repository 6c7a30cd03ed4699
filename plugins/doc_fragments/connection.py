# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The connection options every lmcache.kvcache module takes (plugins/module_utils/_module.py).
    DOCUMENTATION = r'''
options:
  url:
    description:
      - Base URL of the LMCache server's HTTP API, for example V(http://127.0.0.1:8080).
      - LMCache binds its HTTP API to loopback by default, so the default suits a task that runs on the GPU host itself.
      - To manage a server from the controller, use the address it is exposed on and C(delegate_to=localhost).
      - If not set, the value of the E(LMCACHE_URL) environment variable is used.
      - A path is kept as a prefix, for servers behind a reverse proxy.
      - Must not carry credentials (C(user:password@)); the module refuses such a URL before sending anything and masks
        the password in its output. LMCache servers take an API key (O(api_key)).
    type: str
    default: http://127.0.0.1:8080
  api_key:
    description:
      - 'API key, sent as C(Authorization: Bearer <key>). Needed by LMCache servers started with API keys (0.5.7 and later).'
      - If not set, the value of the E(LMCACHE_API_KEY) environment variable is used. Prefer that, or a vaulted variable,
        to a key on the command line (C(ansible -a)), which ends up in shell history and process lists.
      - Surrounding whitespace (a key file's trailing newline) is removed. A key with spaces inside, control or non-ASCII
        characters is refused before any request, without showing it.
      - Never shown in output or logs, neither as given nor as sent.
      - An empty value sends no key.
      - Not sent where O(url_vouched=false).
    type: str
  url_vouched:
    description:
      - Whether O(url) is an address the operator vouches for. A URL written in a task or an inventory is; a node
        address that came from a coordinator's registry is only when the C(networks) setting where it was read
        vouches for it, since anything that reaches a coordinator can register.
      - With V(false), no API key (neither O(api_key) nor E(LMCACHE_API_KEY)) is sent to O(url); a server that
        requires one answers 401, and the message says why and which setting to set.
      - The C(lmcache.kvcache.coordinator) inventory sets the host variable C(lmcache_url_vouched=false) for the nodes
        it found while its C(networks) option is not set, and this collection's modules and the fan-out apply it by
        themselves to a task whose O(url) is the host's C(lmcache_url).
    type: bool
    default: true
    version_added: 0.2.0
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate for V(https://) URLs.
      - Only set to V(false) on networks you control.
    type: bool
    default: true
  ca_path:
    description:
      - File with the CA certificate(s) to verify the server's TLS certificate with, instead of the system's.
      - CA bundles named in the environment for other tools (E(REQUESTS_CA_BUNDLE), E(CURL_CA_BUNDLE)) are not
        used; the module's options decide.
    type: path
  client_cert:
    description:
      - Client certificate (PEM) for servers that require mutual TLS. May hold the private key too.
    type: path
  client_key:
    description:
      - Private key (PEM) of O(client_cert), if that file does not hold it. Requires O(client_cert).
    type: path
  timeout:
    description:
      - Seconds to wait for a connection, and for each read of an answer. More than 0 and at most 3600.
      - The whole task is bounded by O(deadline).
    type: float
    default: 10
  retries:
    description:
      - How many times to retry a read that failed to connect, timed out, or was answered with HTTP 429, 502, 503 or 504.
        From 0 to 10.
      - A write (a clear, a pin, a delete, a quota) is retried only when it cannot have been carried out, that is when the
        connection was never made or the server answered 429 or 503. When a write's answer is lost, the module reads the
        server again and applies only what is still missing, so a reference-counted pin is never added twice.
      - Retries back off exponentially with jitter (0.5 s, 1 s, 2 s, ... at most 30 s) and honour the server's
        C(Retry-After), in seconds or as a date. Every retry is reported as a warning.
      - Other HTTP errors, such as 400, 401 or 404, and a 502 whose text shows the server behind the gateway refused
        the request, are never retried.
    type: int
    default: 3
  deadline:
    description:
      - Seconds the whole task may take, retries, waits and every answer included. More than 0 and at most 86400.
      - A server that answers slowly, one byte at a time, is cut off at the deadline; a C(Retry-After) that would pass
        it fails the task at once.
    type: float
    default: 120
notes:
  - The modules use only the Python standard library on the host they run on (Python 3.8 or later).
  - HTTP(S) proxies named in E(http_proxy) and E(https_proxy) (or E(HTTP_PROXY), E(HTTPS_PROXY)) are used, except for
    loopback addresses and the hosts E(no_proxy) names, read as curl, requests and Go read it - host names with the
    names under them (V(example.com), V(.example.com)), V(*), IPv4 and IPv6 addresses and CIDR blocks
    (V(10.0.0.0/8)), each optionally with a port (V(10.0.0.7:8080)). A proxy must be named with V(http://) (it
    carries V(https://) requests in a C(CONNECT) tunnel); one named otherwise fails the task before anything is sent.
  - Every answer is read up to a size limit (8 MiB for most routes, more for a directory lookup of a long request);
    a larger answer fails the task instead of filling the memory.
  - The module finds out which LMCache HTTP API generation the server speaks (G1 C(/api/*) in 0.4.1 - 0.4.4, G2 top-level
    routes in 0.4.5 - 0.5.0, G3 C(/cache/*) from 0.5.1) from its C(/openapi.json), and uses the matching routes.
  - All modules of this collection are in the action group C(lmcache.kvcache.lmcache), so C(module_defaults) can set the
    connection options once for a play.
'''

    # The same connection options for the controller-side plugins that read them with get_option (the coordinator
    # inventory): the defaults are CONNECTION_ARGUMENT_SPEC's (tests/unit/plugins/test_connection_options.py).
    PLUGINS = r'''
options:
  api_key:
    description:
      - 'API key, sent as C(Authorization: Bearer <key>). Never shown in output or logs, neither as given nor as sent.'
      - Surrounding whitespace is removed; a key with spaces inside, control or non-ASCII characters is refused.
    type: str
    env:
      - name: LMCACHE_API_KEY
  validate_certs:
    description: Whether to verify the servers' TLS certificates for V(https://) URLs.
    type: bool
    default: true
  ca_path:
    description: CA certificate(s) to verify the servers' TLS certificates with, instead of the system's.
    type: path
  client_cert:
    description: Client certificate (PEM) for servers that require mutual TLS. May hold the private key too.
    type: path
  client_key:
    description: Private key (PEM) of O(client_cert), if that file does not hold it.
    type: path
  timeout:
    description: Seconds to wait for a connection, and for each read of an answer. More than 0 and at most 3600.
    type: float
    default: 10
  retries:
    description:
      - Retries of a read that failed to connect, timed out, or was answered with HTTP 429, 502, 503 or 504. From 0 to
        10, with jittered exponential backoff and the server's C(Retry-After).
    type: int
    default: 3
  deadline:
    description: Seconds all the requests to one server may take, retries and waits included. More than 0 and at most 86400.
    type: float
    default: 120
'''
