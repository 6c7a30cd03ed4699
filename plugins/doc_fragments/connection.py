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
    type: str
    default: http://127.0.0.1:8080
  api_key:
    description:
      - 'API key, sent as C(Authorization: Bearer <key>). Needed by LMCache servers started with API keys (0.5.7 and later).'
      - If not set, the value of the E(LMCACHE_API_KEY) environment variable is used.
      - Never shown in output or logs.
    type: str
  validate_certs:
    description:
      - Whether to verify the server's TLS certificate for V(https://) URLs.
      - Only set to V(false) on networks you control.
    type: bool
    default: true
  ca_path:
    description:
      - File with the CA certificate(s) to verify the server's TLS certificate with, instead of the system's.
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
      - Seconds to wait for the server to connect and to answer each request.
    type: float
    default: 10
  retries:
    description:
      - How many times to retry a request that failed to connect, timed out, or was answered with HTTP 429, 502, 503 or 504.
      - Retries back off exponentially with jitter (0.5 s, 1 s, 2 s, ... at most 30 s) and honour the server's C(Retry-After)
        (at most 60 s). Every retry is reported as a warning.
      - Other HTTP errors, such as 400, 401 or 404, are never retried.
    type: int
    default: 3
requirements:
  - requests (Python library, on the host the module runs on)
notes:
  - The module finds out which LMCache HTTP API generation the server speaks (G1 C(/api/*) in 0.4.1 - 0.4.4, G2 top-level
    routes in 0.4.5 - 0.5.0, G3 C(/cache/*) from 0.5.1) from its C(/openapi.json), and uses the matching routes.
  - All modules of this collection are in the action group C(lmcache.kvcache.lmcache), so C(module_defaults) can set the
    connection options once for a play.
'''
