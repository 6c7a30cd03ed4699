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
      - 1 to 256 printable characters without spaces. Exactly one of O(request_id), O(token_ids) and O(token_ids_file)
        is required.
    type: str
  token_ids:
    description:
      - The request's token sequence from its first token, as the engine stored it. LMCache keys each chunk of
        256 tokens by a hash chained over all tokens before it, so a slice from the middle finds nothing.
      - Addressed through the LMCache coordinator (O(coordinator_url)); requires O(model_name).
      - At most 1,000,000 tokens, each a vocabulary index from 0 to 2147483647. A trailing partial chunk is never cached.
      - For long sequences use O(token_ids_file). ansible-core checks a list argument element by element, which takes
        about a minute for 1,000,000 tokens before the module even starts.
    type: list
    elements: int
  token_ids_file:
    description:
      - A file holding the request's token sequence, on the host the task runs on (the controller with
        C(delegate_to=localhost) or the fan-out). Either a JSON list of integers, or integers separated by spaces,
        commas or new lines.
      - The same as O(token_ids) otherwise, and as fast for 1,000,000 tokens as for 1,000.
    type: path
  model_name:
    description: Model the request ran on, as LMCache knows it. Required with O(token_ids) and O(token_ids_file).
    type: str
  world_size:
    description: Tensor-parallel world size the request's KV cache was stored with (one key per rank). From 1 to 4096.
    type: int
    default: 1
  cache_salt:
    description: Per-tenant cache salt the request was stored with. Must not contain V(/).
    type: str
    default: ''
  coordinator_url:
    description:
      - Base URL of the LMCache coordinator, for example V(http://127.0.0.1:9300). Needed with O(token_ids) to find where
        the chunks are, except by M(lmcache.kvcache.lmcache_kvcache_prefetch), which can do without.
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
  per_chunk:
    description:
      - Whether the result lists every chunk in RV(chunks). With V(false) it has only RV(chunk_ranges), consecutive chunks
        in the same state merged, and the totals, which keeps the result of a request of thousands of chunks small.
    type: bool
    default: true
'''
