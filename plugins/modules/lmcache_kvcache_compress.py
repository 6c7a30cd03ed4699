#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_kvcache_compress
short_description: Compress one request's KV cache in place
version_added: 0.1.0
description:
  - Compresses the cached chunks of one request in the range O(start) to O(end) with O(method), to reduce their memory
    footprint. This is the C(lmcache kvcache compress) command of LMCache's design.
  - Reports a change only for chunks that were not already compressed with O(method).
  - Needs a server that offers the design's C(POST /compress), addressed by O(request_id). No LMCache release
    compresses KV cache on demand (0.5.x only applies configured L2 serializers). Against such a server the module
    fails with a message that names the server, its version and API generation, and what is missing.
author:
  - LMCache maintainers (@LMCache)
options:
  method:
    description:
      - Compression method. The server decides which it supports and refuses the others with its own message.
    type: str
    required: true
    choices: [zstd, lz4, fp8, cachegen]
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.target
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode nothing is compressed; C(changed) and C(chunks_changed) say what would be.
    support: full
  diff_mode:
    description: Shows each chunk's compression and stored size before and after.
    support: full
  idempotent:
    description: A second run finds the chunks compressed with O(method) and reports no change.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_kvcache_info
'''

EXAMPLES = r'''
- name: Compress a request's KV cache with zstd
  lmcache.kvcache.lmcache_kvcache_compress:
    url: http://127.0.0.1:8080
    request_id: req-abc-123
    method: zstd

- name: Compress only its first 512 tokens
  lmcache.kvcache.lmcache_kvcache_compress:
    request_id: req-abc-123
    method: zstd
    start: 0
    end: 512
'''

RETURN = r'''
url:
  description: The node's URL, without any credentials.
  returned: always
  type: str
  sample: http://127.0.0.1:8080
status:
  description: HTTP status of the last answer from the node, or of the failed request on failure.
  returned: always
  type: int
  sample: 200
target:
  description: The request, as the module addressed it.
  returned: success
  type: str
  sample: request req-abc-123 on http://127.0.0.1:8080
method:
  description: The compression method asked for.
  returned: success
  type: str
  sample: zstd
chunks_changed:
  description: Indexes of the chunks compressed (in check mode, that would be).
  returned: success
  type: list
  elements: int
  sample: [0, 1, 2, 3]
bytes_before:
  description: Stored bytes of the cached chunks in the range before, where the server reports sizes.
  returned: success
  type: int
  sample: 16777216
bytes_after:
  description:
    - Stored bytes of the cached chunks in the range after.
    - In check mode, the same as RV(bytes_before), since sizes after compression are not known in advance.
  returned: success
  type: int
  sample: 4194304
chunks:
  description: The chunks in the range after compressing; see M(lmcache.kvcache.lmcache_kvcache_info).
  returned: success
  type: list
  elements: dict
total_chunks:
  description: Chunks in the range.
  returned: success
  type: int
  sample: 4
cached_chunks:
  description: Chunks in the range held in some tier.
  returned: success
  type: int
  sample: 4
cached_tokens:
  description: Tokens covered by the cached chunks.
  returned: success
  type: int
  sample: 1024
pinned_chunks:
  description: Chunks in the range that are pinned.
  returned: success
  type: int
  sample: 0
msg:
  description: What was done, in a sentence.
  returned: always
  type: str
  sample: Compressed 4 chunks of request req-abc-123 on http://127.0.0.1:8080 with zstd (16.00 MB -> 4.00 MB).
'''

import copy

from ansible.module_utils.common.text.formatters import bytes_to_human

from ansible_collections.lmcache.kvcache.plugins.module_utils._kvcache import chunk_diff, chunk_report, open_request_cache
from ansible_collections.lmcache.kvcache.plugins.module_utils._module import run_module


def _stored_bytes(chunks):
    return sum(c.size_bytes or 0 for c in chunks if c.cached)


def run(module, server):
    method = module.params['method']
    cache = open_request_cache(module, server)
    cache.require('compress')
    before = cache.read()
    changing = [c for c in before if c.cached and c.compression != method]
    result_indexes = [c.index for c in changing]
    if changing and not module.check_mode:
        cache.compress(method)
        after = cache.read()
    else:
        after = copy.deepcopy(before)
        for chunk in after:
            if chunk.index in result_indexes:
                chunk.compression = method
    result = dict(chunk_report(cache, after), url=server.url, method=method, changed=bool(changing),
                  chunks_changed=result_indexes,
                  bytes_before=_stored_bytes(before), bytes_after=_stored_bytes(after))
    if not changing:
        result['msg'] = 'Nothing to compress: the cached chunks of %s are already %s.' % (cache.description, method)
    else:
        result['msg'] = '%s %d chunks of %s with %s (%s -> %s).' % (
            'Would compress' if module.check_mode else 'Compressed', len(changing), cache.description, method,
            bytes_to_human(result['bytes_before']), bytes_to_human(result['bytes_after']))
    if module._diff:
        result['diff'] = chunk_diff(before, after, ('compression', 'size_bytes'))
    return result


def main():
    run_module(dict(method=dict(type='str', required=True, choices=['zstd', 'lz4', 'fp8', 'cachegen'])),
               run, supports_check_mode=True, target='required')


if __name__ == '__main__':
    main()
