# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Configuration drift: which field, which node, from which value; never a field one release lacks, never the fields
that name the node itself; the report's outliers and Markdown carry it, escaped."""

from __future__ import annotations

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._drift import drift, leaves
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._report import build_report, markdown


def node(chunk=256, port=5555, extra=None):
    config = {'mp': {'chunk_size': chunk, 'host': '10.0.0.%d' % port, 'port': port, 'instance_id': 'n%d' % port},
              'storage_manager': {'eviction_config': {'eviction_policy': 'LRU'}}}
    config['mp'].update(extra or {})
    return config


def test_a_field_that_differs_names_the_nodes_that_differ_from_the_fleets_most_common_value():
    found = drift({'a': node(port=1), 'b': node(port=2), 'c': node(512, port=3)})
    assert found['nodes'] == 3
    assert found['fields'] == [dict(field='mp.chunk_size', value=256, nodes=3, differing=[dict(host='c', value=512)],
                                    differing_count=1)]


def test_a_field_one_release_lacks_is_compared_among_the_nodes_that_have_it_and_identity_is_never_drift():
    found = drift({'a': node(port=1, extra={'transport': 'zmq'}), 'b': node(port=2, extra={'transport': 'zmq'}),
                   'old': node(port=3)})
    assert found['fields'] == []


def test_declared_values_name_the_nodes_that_differ_and_a_field_no_node_has():
    found = drift({'a': node(port=1), 'b': node(512, port=2)}, {'mp': {'chunk_size': 512, 'hash_algorithm': 'blake3'}})
    assert found['expected'] == [
        dict(field='mp.chunk_size', expected=512, nodes=2, differing=[dict(host='a', value=256)], differing_count=1),
        dict(field='mp.hash_algorithm', expected='blake3', nodes=0, differing=[], differing_count=0)]


def test_the_report_makes_each_differing_node_an_outlier_and_escapes_its_values_in_markdown():
    results = dict((host, {'healthy': True, 'url': 'http://%s' % host, 'l1': None, 'config': config})
                   for host, config in (('a', node(port=1)), ('b', node(port=2)), ('c', node('<b>x</b>', port=3))))
    report = build_report(results)
    assert {'host': 'c', 'reason': 'configuration differs: mp.chunk_size is "<b>x</b>", the fleet\'s 256'} in report['outliers']
    text = markdown(report, chart=False)
    assert '## Configuration drift' in text and '<b>' not in text


def test_leaves_are_dotted_paths_and_lists_are_one_leaf():
    assert leaves({'a': {'b': [1, 2], 'c': {}}, 'd': None}) == {'a.b': [1, 2], 'a.c': {}, 'd': None}
