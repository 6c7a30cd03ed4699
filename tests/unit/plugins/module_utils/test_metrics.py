# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cache counters from /metrics: the verbatim answers of genuine 0.5.0, 0.5.6 and 0.5.7rc3 nodes after LMCache's own
bench client stored and looked up 2 sequences (fixtures/metrics-*-bench.txt), and what a hostile node could send."""

from __future__ import annotations

import os

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._metrics import cache_hits, interval, parse
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import Untrusted

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures')


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


@pytest.mark.parametrize('release', ['0.5.6', '0.5.7rc3'])
def test_the_counters_of_a_genuine_node_are_its_own_numbers(release):
    hits, missing = cache_hits(fixture('metrics-%s-bench.txt' % release), counts_from_zero=True)
    assert hits == dict(lookups=4, requested_tokens=2048, hit_tokens=1024, hit_tokens_l1=1024, hit_tokens_l2=0,
                        hit_keys_l1=4, hit_keys_l2=0, stores=2, retrieves=2, chunks_loaded=4, l1_chunks_written=4,
                        l1_chunks_read=4, eviction_runs=0, hit_ratio=0.5, l1_hit_share=1.0, l2_hit_share=0.0)
    assert missing == {}


def test_an_older_release_has_some_counters_and_the_rest_are_null_with_why():
    hits, missing = cache_hits(fixture('metrics-0.5.0-bench.txt'), counts_from_zero=False)
    assert (hits['requested_tokens'], hits['hit_tokens'], hits['hit_ratio']) == (2048, 1024, 0.5)
    assert hits['lookups'] is None and hits['hit_tokens_l1'] is None and hits['l1_hit_share'] is None
    assert missing['lookups'] == 'the node exports no lmcache_mp_lookups_requests_total'
    assert 'requested_tokens' not in missing


def test_a_fresh_node_has_counted_nothing_yet():
    # OpenTelemetry shows a counter from its first increment: a fresh 0.5.6 node has none of them.
    hits, missing = cache_hits('lmcache_mp_l1_eviction_loop_ticks_total 76.0\n', counts_from_zero=True)
    assert hits['lookups'] == 0 and hits['requested_tokens'] == 0 and hits['hit_ratio'] is None and missing == {}


def test_per_tenant_counters_are_entries_carrying_their_labels_as_values():
    text = ('lmcache_mp_lookup_requested_tokens_total{cache_salt="a",model_name="m"} 100.0\n'
            'lmcache_mp_lookup_hit_tokens_total{cache_salt="a",model_name="m"} 25.0\n'
            'lmcache_mp_lookup_requested_tokens_total{cache_salt="__ansible_unsafe",model_name="{{ lookup(\'pipe\', \'id\') }}"} 10\n')
    hits, _missing = cache_hits(text, counts_from_zero=True, per_tenant=True)
    assert hits['requested_tokens'] == 110 and hits['hit_tokens'] == 25
    assert hits['tenants'][0]['model_name'] == 'm' and hits['tenants'][0]['hit_ratio'] == 0.25
    hostile = hits['tenants'][1]
    assert hostile['cache_salt'] == '__ansible_unsafe' and hostile['model_name'].startswith('{{')
    assert hostile['hit_tokens'] == 0 and hostile['hit_ratio'] == 0.0


def test_label_values_are_unescaped_as_the_format_says():
    samples = parse('x{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 1\n', {'x'})
    assert samples['x'][0][0] == {'a': 'q"uote', 'b': 'back\\slash', 'c': 'new\nline'}


@pytest.mark.parametrize('line, problem', [
    ('lmcache_mp_lookup_hit_tokens_total{cache_salt="a" 3', 'line 1 is not a Prometheus sample'),
    ('lmcache_mp_lookup_hit_tokens_total{cache_salt=a} 3', 'not name="value" pairs'),
    ('lmcache_mp_lookup_hit_tokens_total lots', 'has the value \'lots\', not a number'),
    ('lmcache_mp_lookup_hit_tokens_total NaN', 'not a counter'),
    ('lmcache_mp_lookup_hit_tokens_total -1', 'not a counter'),
    ('lmcache_mp_lookup_hit_tokens_total +Inf', 'not a counter'),
    ('lmcache_mp_lookup_hit_tokens_total{cache_salt="%s"} 1' % ('x' * 5000), 'more than 4096'),
])
def test_a_counter_that_breaks_the_format_is_refused_with_its_line(line, problem):
    with pytest.raises(Untrusted, match=problem.replace('(', r'\(')):
        cache_hits(line + '\n', counts_from_zero=True)


def test_metrics_the_collection_does_not_read_are_not_parsed():
    hits, _missing = cache_hits('some_histogram_bucket{le=broken 1\nlmcache_mp_lookups_requests_total 3\n', True)
    assert hits['lookups'] == 3


def test_the_interval_between_two_reads_is_their_difference():
    then, _missing = cache_hits('lmcache_mp_lookup_requested_tokens_total 1000\nlmcache_mp_lookup_hit_tokens_total 100\n', True)
    now, _missing = cache_hits('lmcache_mp_lookup_requested_tokens_total 1400\nlmcache_mp_lookup_hit_tokens_total 400\n', True)
    delta = interval(now, then)
    assert (delta['requested_tokens'], delta['hit_tokens'], delta['hit_ratio'], delta['restarted']) == (400, 300, 0.75, False)


def test_a_counter_that_went_down_is_a_restart_and_the_interval_starts_there():
    then, _missing = cache_hits('lmcache_mp_lookup_requested_tokens_total 1000\nlmcache_mp_lookup_hit_tokens_total 900\n', True)
    now, _missing = cache_hits('lmcache_mp_lookup_requested_tokens_total 200\nlmcache_mp_lookup_hit_tokens_total 20\n', True)
    delta = interval(now, then)
    assert (delta['requested_tokens'], delta['hit_tokens'], delta['hit_ratio'], delta['restarted']) == (200, 20, 0.1, True)


def test_an_interval_with_an_unknown_counter_is_unknown_not_zero():
    delta = interval({'requested_tokens': 10, 'hit_tokens': None}, {'requested_tokens': 5, 'hit_tokens': None})
    assert delta['requested_tokens'] == 5 and delta['hit_tokens'] is None and delta['hit_ratio'] is None
