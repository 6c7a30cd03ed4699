# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The event source's state: one event per change, never one per poll, and nothing in an event Ansible would template."""

from __future__ import annotations

import typing as t

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import FleetState, inert
from ansible_collections.lmcache.kvcache.tests.unit.fleet_results import server_info

A, B = 'http://10.0.0.11:8080', 'http://10.0.0.12:8080'


def kinds(events: t.List[t.Dict[str, t.Any]]) -> t.List[t.Tuple[str, t.Optional[str]]]:
    return [(e['lmcache']['type'], e['lmcache'].get('url')) for e in events]


def hits(requested: int, hit: int) -> t.Dict[str, t.Any]:
    return dict(requested_tokens=requested, hit_tokens=hit, lookups=1, hit_tokens_l1=hit, hit_tokens_l2=0)


def test_a_node_crossing_the_watermark_is_one_event_and_so_is_its_return():
    state = FleetState()
    assert state.reads({A: server_info(0.5)}, {}) == []
    high = state.reads({A: server_info(0.85)}, {'http://10.0.0.11:8080': 'node-a'})
    assert kinds(high) == [('l1_usage_high', A)]
    assert high[0]['lmcache']['instance_id'] == 'node-a' and high[0]['lmcache']['watermark'] == 0.8
    assert state.reads({A: server_info(0.9)}, {}) == [] and state.reads({A: server_info(0.95)}, {}) == []
    assert kinds(state.reads({A: server_info(0.1)}, {})) == [('l1_usage_normal', A)]
    assert state.reads({A: server_info(0.1)}, {}) == []


def test_a_watermark_given_to_the_source_wins_over_the_nodes():
    state = FleetState(watermark=0.3)
    assert kinds(state.reads({A: server_info(0.35)}, {})) == [('l1_usage_high', A)]


def test_health_changes_are_events_and_a_node_unhealthy_from_the_start_is_reported():
    state = FleetState()
    first = state.reads({A: server_info(0.1), B: dict(failed=True, msg='GET http://10.0.0.12:8080/version failed: cannot connect')}, {})
    assert kinds(first) == [('unhealthy', B)] and first[0]['lmcache']['reachable'] is False
    assert state.reads({A: server_info(0.1), B: dict(failed=True, msg='still down')}, {}) == []
    back = state.reads({A: server_info(0.1, healthy=False, health_reason='engine not initialized'), B: server_info(0.1)}, {})
    assert kinds(back) == [('unhealthy', A), ('healthy', B)]
    assert back[0]['lmcache']['reason'] == 'engine not initialized' and back[0]['lmcache']['reachable'] is True


def test_registrations_are_events_from_the_second_read_on():
    state = FleetState()
    assert state.registrations({'node-a': A}) == []
    assert kinds(state.registrations({'node-a': A, 'node-b': B})) == [('registered', B)]
    gone = state.registrations({'node-b': B})
    assert kinds(gone) == [('gone', A)] and gone[0]['lmcache']['instance_id'] == 'node-a'


def test_a_low_hit_ratio_over_the_interval_is_one_event_and_a_restart_is_said():
    state = FleetState(hit_ratio_floor=0.2, hit_ratio_min_tokens=100)
    assert state.reads({A: server_info(hits=hits(1000, 900))}, {}) == []
    # 50 tokens since: too few to judge, and the baseline stays.
    assert state.reads({A: server_info(hits=hits(1050, 900))}, {}) == []
    low = state.reads({A: server_info(hits=hits(1500, 950))}, {})
    assert kinds(low) == [('hit_ratio_low', A)] and low[0]['lmcache']['hit_ratio'] == 0.1
    assert low[0]['lmcache']['requested_tokens'] == 500
    assert state.reads({A: server_info(hits=hits(2000, 1000))}, {}) == []
    assert kinds(state.reads({A: server_info(hits=hits(100, 90))}, {})) == [('restarted', A)]
    assert kinds(state.reads({A: server_info(hits=hits(1100, 990))}, {})) == [('hit_ratio_normal', A)]


def test_a_version_change_and_the_fleets_drift_are_events_once():
    state = FleetState()
    state.reads({A: server_info(0.1), B: server_info(0.1)}, {})
    moved = state.reads({A: server_info(0.1), B: server_info(0.1, version='0.5.7rc3.dev0-gbf85b41fa')}, {})
    assert kinds(moved) == [('version_changed', B), ('version_drift', None)]
    drift = moved[1]['lmcache']['versions']
    assert [v['version'] for v in drift] == ['0.5.6-g3e11e108', '0.5.7rc3.dev0-gbf85b41fa'] and drift[1]['urls'] == [B]
    assert state.reads({A: server_info(0.1), B: server_info(0.1, version='0.5.7rc3.dev0-gbf85b41fa')}, {}) == []


def test_no_server_text_reaches_an_event_as_a_template():
    state = FleetState()
    events = state.reads({A: server_info(0.1, healthy=False, health_reason="{{ lookup('pipe', 'id') }}\n{% raw %}"),
                          B: server_info(0.9, version='{{ 7 * 7 }}')}, {})
    assert events[0]['lmcache']['reason'] == "(( lookup('pipe', 'id') )) (% raw %)"
    text = repr(events)
    assert '{{' not in text and '{%' not in text
    assert inert('x' * 1000) == 'x' * 300 and inert(None) is None
