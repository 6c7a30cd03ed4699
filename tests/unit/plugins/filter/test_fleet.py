# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet filters: which hosts a report calls outliers and why, and the window's summary lines."""

from __future__ import annotations

import typing as t

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.lmcache.kvcache.plugins.filter.fleet_report import fleet_report
from ansible_collections.lmcache.kvcache.plugins.filter.window_summary import window_summary
from ansible_collections.lmcache.kvcache.tests.unit.fleet_results import server_info


def reasons(report: t.Mapping[str, t.Any], host: str) -> t.List[str]:
    return [outlier['reason'] for outlier in report['outliers'] if outlier['host'] == host]


def test_a_healthy_current_host_is_no_outlier() -> None:
    report = fleet_report({'gpu-01': server_info(0.5)})
    assert report['outliers'] == []
    row = report['hosts'][0]
    assert (row['host'], row['reachable'], row['healthy'], row['release']) == ('gpu-01', True, True, '0.5.6-g3e11e108')
    assert (row['l1_objects'], row['l1_usage_ratio'], row['l2_adapters']) == (10, 0.5, ['LocalDiskL2Adapter'])


def test_usage_above_the_warning_level_and_above_the_watermark_are_outliers() -> None:
    report = fleet_report({'warm': server_info(0.75), 'hot': server_info(0.85), 'cool': server_info(0.2)}, usage_warn=0.7)
    assert reasons(report, 'warm') == ['L1 at 75%, above 70%']
    assert reasons(report, 'hot') == ['L1 at 85%, at or above the eviction watermark (80%)']
    assert reasons(report, 'cool') == []
    # A higher warning level leaves the warm host alone; the watermark stays the server's.
    report = fleet_report({'warm': server_info(0.75), 'hot': server_info(0.85)}, usage_warn='0.9')
    assert [o['host'] for o in report['outliers']] == ['hot']


def test_unreachable_unhealthy_and_old_hosts_are_outliers_with_their_reason() -> None:
    report = fleet_report({
        'down': {'failed': True, 'msg': 'GET http://10.0.0.2:8080/openapi.json failed: cannot connect (Connection refused)'},
        'sick': server_info(0.1, healthy=False, health_reason='engine not running'),
        'old': server_info(0.1, api_generation='G1', version=None),
        'silent': None,
    })
    assert reasons(report, 'down') == ['unreachable: GET http://10.0.0.2:8080/openapi.json failed: cannot connect '
                                       '(Connection refused)']
    assert reasons(report, 'sick') == ['unhealthy: engine not running']
    # G1 servers report no version: the report names the releases of their generation instead.
    assert reasons(report, 'old') == ['old API generation G1 (LMCache 0.4.1 - 0.4.4)']
    assert reasons(report, 'silent') == ['unreachable: no answer']
    rows = dict((row['host'], row) for row in report['hosts'])
    assert rows['down']['l1_objects'] is None and rows['down']['healthy'] is False


def test_the_exceptions_of_a_report_are_the_hosts_to_act_on_and_the_counts_say_the_rest() -> None:
    from ansible_collections.lmcache.kvcache.plugins.plugin_utils._report import exceptions_only
    exposed = server_info(0.1)
    exposed['exposure'] = {'exposed': ['POST /run_script'], 'protected': [], 'unknown': []}
    report = fleet_report({'down': {'failed': True, 'msg': 'no answer'}, 'sick': server_info(0.1, healthy=False),
                           'open': exposed, 'fine': server_info(0.1), 'warm': server_info(0.75)})
    assert (report['host_count'], report['healthy_hosts']) == (5, ['fine', 'open', 'warm'])
    assert (report['healthy_count'], report['unhealthy_hosts']) == (3, ['down', 'sick'])
    short = exceptions_only(report)
    assert [row['host'] for row in short['hosts']] == ['down', 'open', 'sick']
    # No list of the healthy hosts (almost every host of a large fleet); the counts and the few others say the rest.
    assert 'healthy_hosts' not in short
    assert (short['host_count'], short['healthy_count'], short['unhealthy_hosts']) == (5, 3, ['down', 'sick'])
    # Everything else of the report is the same: the outliers still name the warm host.
    rest = dict((key, value) for key, value in report.items() if key != 'healthy_hosts')
    assert dict(short, hosts=None) == dict(rest, hosts=None) and 'warm' in [o['host'] for o in short['outliers']]


@pytest.mark.parametrize('results, usage_warn, message', [
    (['gpu-01'], 0.7, 'fleet_report expects a dict of server_info results by host, got list'),
    ({}, 'high', "fleet_report usage_warn must be a number from 0 to 1, got 'high'"),
])
def test_fleet_report_refuses_bad_input(results: t.Any, usage_warn: t.Any, message: str) -> None:
    with pytest.raises(AnsibleFilterError, match='^%s$' % message.replace('(', r'\(').replace(')', r'\)')):
        fleet_report(results, usage_warn)


def clear_result(before: int, after: int, freed: int) -> t.Dict[str, t.Any]:
    return dict(changed=before > after, version='0.5.6-g3e11e108', api_generation='G3', bytes_cleared=freed,
                before=dict(objects=before), after=dict(objects=after))


def test_window_summary_has_a_line_per_host_with_what_was_freed() -> None:
    lines = window_summary({'gpu-01': clear_result(4, 0, 16 * 2 ** 20), 'gpu-02': clear_result(0, 0, 0)})
    assert lines[0].split() == ['host', 'LMCache', 'API', 'before', 'after', 'freed']
    assert lines[1].split() == ['gpu-01', '0.5.6-g3e11e108', 'G3', '4', '0', '16.00', 'MB']
    assert lines[2].split() == ['gpu-02', '0.5.6-g3e11e108', 'G3', '0', '0', '0.00', 'Bytes']
    assert lines[3] == 'window: 2 hosts: 1 cleared, 1 unchanged, 0 left out, 0 failed, 0 not run'
    assert len(lines) == 4


def test_window_summary_names_failed_and_left_out_hosts_and_check_mode() -> None:
    preflight = fleet_report({'gpu-03': {'failed': True, 'msg': 'timed out'},
                              'gpu-04': server_info(healthy=False, health_reason='engine not running')})
    lines = window_summary({'gpu-01': {'failed': True, 'msg': 'POST http://gpu-01:8080/cache/clear: HTTP 500'},
                            'gpu-02': {'skipped': True, 'msg': 'batch stopped'}},
                           check_mode=True, preflight=preflight)
    assert lines[1:] == [
        'gpu-01       not cleared: POST http://gpu-01:8080/cache/clear: HTTP 500',
        'gpu-02       not cleared: batch stopped',
        'gpu-03       left out of the window: timed out',
        'gpu-04       left out of the window: not healthy: engine not running',
        "check mode: nothing was cleared; 'after' is what a real run would leave, 'freed' what it would free",
        'window: 4 hosts: 0 would be cleared, 0 unchanged, 2 left out, 1 failed, 1 not run',
    ]


def test_a_large_window_lists_only_the_hosts_it_did_not_clear() -> None:
    results = dict(('gpu-%04d' % number, clear_result(4, 0, 16 * 2 ** 20)) for number in range(1000))
    results['gpu-0500'] = {'failed': True, 'msg': 'POST http://gpu-0500:8080/cache/clear: HTTP 500'}
    lines = window_summary(results)
    assert lines[1:] == [
        'gpu-0500     not cleared: POST http://gpu-0500:8080/cache/clear: HTTP 500',
        '999 hosts cleared or unchanged are not listed (more than 100 hosts; the reports have every host)',
        'window: 1000 hosts: 999 cleared, 0 unchanged, 0 left out, 1 failed, 0 not run',
    ]
    assert len(window_summary(results, host_lines=1000)) == 1002


def test_a_large_window_bounds_the_hosts_it_did_not_clear_too() -> None:
    results = dict(('gpu-%04d' % number, {'failed': True, 'msg': 'timed out'}) for number in range(250))
    lines = window_summary(results, host_lines=100)
    assert lines[100] == 'gpu-0099     not cleared: timed out'
    assert lines[101:] == ['... and 150 more hosts not cleared',
                           '0 hosts cleared or unchanged are not listed (more than 100 hosts; the reports have every host)',
                           'window: 250 hosts: 0 cleared, 0 unchanged, 0 left out, 250 failed, 0 not run']


def test_window_summary_refuses_a_list() -> None:
    with pytest.raises(AnsibleFilterError, match='window_summary expects a dict of clear results by host, got list'):
        window_summary([])


def test_a_fan_out_window_counts_the_hosts_its_results_leave_out_from_the_fan_outs_summary() -> None:
    # Above 100 hosts the fan-out returns the hosts it did not clear as asked, and counts them all in its summary.
    results = {'gpu-0500': {'failed': True, 'changed': True, 'msg': '2 objects remain in L1 of http://gpu-0500:8080'}}
    clear_summary = dict(endpoints=1000, changed=990, unchanged=9, failed=1, rejected=0, not_run=0, results_left_out=999,
                         totals=dict(objects_cleared=3960, bytes_cleared=0, engines=10, engines_froze_stores=9))
    lines = window_summary(results, clear_summary=clear_summary)
    assert lines[1:] == [
        'gpu-0500     not cleared: 2 objects remain in L1 of http://gpu-0500:8080',
        "999 hosts cleared or unchanged are not listed (the fan-out's results leave them out; the reports have every host)",
        'engines: 10; stores were frozen by the window for the clear, and unfrozen after it, on 9 (the others had nothing '
        'to clear, or were frozen already and stay so)',
        'window: 1000 hosts: 990 cleared, 9 unchanged, 0 left out, 1 failed, 0 not run',
    ]


def test_a_small_fan_out_windows_results_are_every_host_and_its_summary_adds_nothing() -> None:
    results = {'gpu-01': clear_result(4, 0, 16 * 2 ** 20), 'gpu-02': clear_result(0, 0, 0)}
    clear_summary = dict(endpoints=2, changed=1, unchanged=1, failed=0, rejected=0, not_run=0,
                         totals=dict(objects_cleared=4, bytes_cleared=16 * 2 ** 20, engines=0, engines_froze_stores=0))
    assert window_summary(results, clear_summary=clear_summary) == window_summary(results)


def test_window_summary_refuses_a_clear_summary_that_is_no_dict() -> None:
    with pytest.raises(AnsibleFilterError, match="clear_summary must be the fan-out's summary"):
        window_summary({}, clear_summary=['changed'])
