# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The per-request target options (plugins/module_utils/_target.py).
    DOCUMENTATION = r'''
options:
  request_id:
    description:
      - The inference request whose KV cache to act on, as the serving engine named it.
      - Needs a server that offers the C(lmcache kvcache) design's per-request endpoints (C(/kvcache-info), C(/pin),
        C(/compress), C(/kvcache-clear)) in its C(/openapi.json). No LMCache release has them yet; the module fails
        with a message saying so. Use O(token_ids) with real LMCache servers.
      - 1 to 256 printable characters without spaces. Exactly one of O(request_id) and O(token_ids) is required.
    type: str
  token_ids:
    description:
      - The request's token sequence from its first token, as the engine stored it. LMCache keys each chunk of
        256 tokens by a hash chained over all tokens before it, so a slice from the middle finds nothing.
      - Addressed through the LMCache coordinator (O(coordinator_url)); requires O(model_name).
      - At most 1,000,000 tokens. A trailing partial chunk is never cached.
    type: list
    elements: int
  model_name:
    description: Model the request ran on, as LMCache knows it. Required with O(token_ids).
    type: str
  world_size:
    description: Tensor-parallel world size the request's KV cache was stored with (one key per rank).
    type: int
    default: 1
  cache_salt:
    description: Per-tenant cache salt the request was stored with. Must not contain V(/).
    type: str
    default: ''
  coordinator_url:
    description:
      - Base URL of the LMCache coordinator, for example V(http://127.0.0.1:9300). Required with O(token_ids).
      - If not set, the value of the E(LMCACHE_COORDINATOR_URL) environment variable is used.
      - The connection options (O(api_key), TLS, O(timeout), O(retries)) apply to it too.
    type: str
  instance_id:
    description:
      - The coordinator's id of the node meant, where one host is meant (a targeted clear). Must be registered.
      - If not set, the node registered at O(url) (by address and port) is meant.
    type: str
  start:
    description:
      - First token of the range to act on, counted from 0. The range is O(start) to O(end), end excluded, and
        covers the chunks C(start // 256) to C(ceil(end / 256) - 1).
      - Default is the start of the request.
    type: int
  end:
    description:
      - Token after the last one of the range. Must be greater than O(start) and, with O(token_ids), at most their
        number. Default is the end of the request.
    type: int
'''
