# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._server import LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient, LMCacheError
from ansible_collections.lmcache.kvcache.plugins.module_utils._kvcache import TokenSequenceCache
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import Rejected
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import Target
from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import Networks
from ansible_collections.lmcache.kvcache.tests.unit.fake_server import Answer


def key(chunk, rank=0):
    return {'chunk_hash_hex': 'h%d' % chunk, 'model_name': 'm', 'kv_rank': rank, 'object_group_id': 0, 'cache_salt': ''}


def lookup(chunks, ranks=1, placements=None):
    return {'chunks': chunks, 'results': [
        {'key': key(c, r), 'placements': (placements or {}).get(c, [{'instance_id': 'node-a', 'tier': 'l1'}])}
        for c in range(chunks) for r in range(ranks)]}


def cache_for(coordinator, node_url='http://127.0.0.1:8080', networks=None, **params):
    base = dict(token_ids=[1] * 1025, model_name='m', world_size=1, cache_salt='', instance_id=None, start=None, end=None)
    base.update(params)
    return TokenSequenceCache(Target(**base), LMCacheClient(coordinator.url), LMCacheServer(LMCacheClient(node_url)),
                              lambda url, withheld=None: LMCacheServer(LMCacheClient(url, key_withheld=withheld)),
                              Networks(networks))


def test_pin_list_is_read_page_by_page(fake_server):
    fake_server.on('POST', '/directory/lookup', Answer(body=lookup(4)))
    fake_server.on('GET', '/cache/pins',
                   Answer(body={'total': 3, 'pins': [{'key': key(0), 'pin_count': 2}, {'key': key(1), 'pin_count': 1}]}),
                   Answer(body={'total': 3, 'pins': [{'key': key(3), 'pin_count': 5}]}))
    chunks = cache_for(fake_server).read()
    assert [c.pin_count for c in chunks] == [2, 1, 0, 5]
    assert len(fake_server.sent('GET', '/cache/pins')) == 2


def test_a_chunk_counts_as_pinned_only_if_every_rank_is(fake_server):
    fake_server.on('POST', '/directory/lookup', Answer(body=lookup(2, ranks=2)))
    fake_server.on('GET', '/cache/pins', Answer(body={'total': 3, 'pins': [
        {'key': key(0, 0), 'pin_count': 1}, {'key': key(0, 1), 'pin_count': 1}, {'key': key(1, 0), 'pin_count': 1}]}))
    chunks = cache_for(fake_server, world_size=2, token_ids=[1] * 512).read()
    assert [c.pin_count for c in chunks] == [1, 0]


def test_a_range_reads_the_whole_prefix_and_selects_its_chunks(fake_server):
    fake_server.on('POST', '/directory/lookup', Answer(body=lookup(3)))
    fake_server.on('GET', '/cache/pins', Answer(body={'total': 0, 'pins': []}))
    cache = cache_for(fake_server, start=300, end=700)
    chunks = cache.read()
    assert [c.index for c in chunks] == [0, 1, 2]
    assert [(c.index, c.start, c.end) for c in cache.selected(chunks)] == [(1, 256, 512), (2, 512, 768)]
    assert len(fake_server.sent('POST', '/directory/lookup')[0]['body']['token_ids']) == 768


def test_a_lookup_with_fewer_keys_than_chunks_is_an_error(fake_server):
    fake_server.on('POST', '/directory/lookup', Answer(body=lookup(2)))
    with pytest.raises(LMCacheError, match='the directory answered 2 chunk keys for 4 chunks x world_size 1'):
        cache_for(fake_server).read()


def test_a_pin_count_that_cannot_be_read_is_an_error(fake_server):
    fake_server.on('POST', '/directory/lookup', Answer(body=lookup(4)))
    fake_server.on('GET', '/cache/pins', Answer(body={'total': 1, 'pins': [{'key': key(0), 'pin_count': 'one'}]}))
    with pytest.raises(LMCacheError, match=r"cannot read pins\[0\].pin_count from the answer: 'one'"):
        cache_for(fake_server).read()


def test_range_pin_sends_pin_to_end_then_unpin_before_start(fake_server):
    fake_server.on('POST', '/directory/lookup', Answer(body=lookup(4)))
    fake_server.on('GET', '/cache/pins', Answer(body={'total': 0, 'pins': []}))
    fake_server.on('POST', '/cache/pins', Answer(body={'status': 'pinned'}))
    fake_server.on('DELETE', '/cache/pins', Answer(body={'status': 'unpinned'}))
    cache = cache_for(fake_server, start=512)
    chunks = cache.read()
    for change in cache.pin_changes(chunks, {0: 0, 1: 0, 2: 1, 3: 1}):
        cache.apply_pin_change(change)
    sent = [(r['method'], len(r['body']['token_ids'])) for r in fake_server.requests
            if r['path'] == '/cache/pins' and r['method'] != 'GET']
    # A prefix of every complete chunk is sent whole: LMCache ignores the trailing partial chunk.
    assert sent == [('POST', 1025), ('DELETE', 512)]


def test_the_node_is_matched_to_its_instance_by_address_and_port(fake_server):
    fake_server.on('GET', '/instances', Answer(body={'instances': [
        {'instance_id': 'node-a', 'ip': '127.0.0.1', 'http_port': 8080}, {'instance_id': 'node-b', 'ip': '127.0.0.1', 'http_port': 8081}]}))
    assert cache_for(fake_server, node_url='http://localhost:8081').scope() == 'node-b'


def test_no_instance_at_the_node_url_is_named(fake_server):
    fake_server.on('GET', '/instances', Answer(body={'instances': [{'instance_id': 'node-a', 'ip': '10.0.0.5', 'http_port': 8080}]}))
    with pytest.raises(LMCacheError, match=r'no instance registered with the coordinator .* serves http://127.0.0.1:8080; '
                                           r'registered: node-a \(10.0.0.5:8080\)'):
        cache_for(fake_server).scope()


def test_admission_rejects_at_max_usage_on_a_holder(fake_server):
    fake_server.on('GET', '/instances', Answer(body={'instances': []}))
    fake_server.on('GET', '/instances/usage', Answer(body={'instances': [
        {'instance_id': 'node-a', 'modules': [{'tier': 'l1', 'usage_ratio': 0.91}, {'tier': 'l2', 'usage_ratio': None}]},
        {'instance_id': 'node-b', 'modules': [{'tier': 'l1', 'usage_ratio': 0.99}]}]}))
    fake_server.on('POST', '/directory/lookup', Answer(body=lookup(1)))
    fake_server.on('GET', '/cache/pins', Answer(body={'total': 0, 'pins': []}))
    cache = cache_for(fake_server, token_ids=[1] * 256)
    chunks = cache.read()
    with pytest.raises(Rejected) as caught:
        cache.admission(chunks, 0.9)
    assert caught.value.reason == 'L1 memory pressure (91%) on node-a, at or above max_usage (90%)'
    cache.admission(chunks, 0.95)  # node-b is under more pressure but holds none of the request
