# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the fleet report and the window's summary make of hit counters and of the exposure audit."""

from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible_collections.lmcache.kvcache.plugins.filter.window_summary import window_summary
from ansible_collections.lmcache.kvcache.plugins.plugin_utils import _report
from ansible_collections.lmcache.kvcache.tests.unit.fleet_results import server_info


def hits(requested: int, hit: int, l1: t.Optional[int] = None, lookups: int = 4) -> t.Dict[str, t.Any]:
    l1 = hit if l1 is None else l1
    return dict(lookups=lookups, requested_tokens=requested, hit_tokens=hit, hit_tokens_l1=l1, hit_tokens_l2=hit - l1,
                hit_ratio=hit / requested if requested else None)


def reasons(report: t.Mapping[str, t.Any], host: str) -> t.List[str]:
    return [o['reason'] for o in report['outliers'] if o['host'] == host]


def test_each_row_has_its_hits_and_the_fleet_their_sums():
    report = _report.build_report({'a': server_info(hits=hits(2048, 1024)), 'b': server_info(hits=hits(2048, 2048, l1=1024)),
                                   'g1': server_info(hits=None)})
    rows = dict((row['host'], row) for row in report['hosts'])
    assert rows['a']['hits']['hit_ratio'] == 0.5 and rows['b']['hits']['l2_hit_share'] == 0.5 and rows['g1']['hits'] is None
    assert report['hits'] == dict(hosts=2, lookups=8, requested_tokens=4096, hit_tokens=3072, hit_tokens_l1=2048,
                                  hit_tokens_l2=1024, hit_ratio=0.75, l1_hit_share=2048 / 3072, l2_hit_share=1024 / 3072)
    assert 'hits_interval' not in report and reasons(report, 'a') == []


def test_a_host_below_the_hit_ratio_level_is_an_outlier_and_one_that_looked_nothing_up_is_not():
    report = _report.build_report({'cold': server_info(hits=hits(10000, 500)), 'idle': server_info(hits=hits(0, 0)),
                                   'warm': server_info(hits=hits(1000, 300))}, hit_ratio_warn=0.2)
    assert reasons(report, 'cold') == ['hit ratio 5.0% below 20.0% (500 of 10000 tokens, since the server started)']
    assert reasons(report, 'idle') == [] and reasons(report, 'warm') == []


def test_given_the_previous_report_the_hits_are_over_the_interval_and_a_restart_is_said():
    before = _report.build_report({'a': server_info(hits=hits(1000, 900)), 'b': server_info(hits=hits(5000, 4000)),
                                   'new': server_info(hits=None)})
    after = _report.build_report({'a': server_info(hits=hits(2000, 950)), 'b': server_info(hits=hits(100, 90)),
                                  'new': server_info(hits=hits(10, 10))}, previous=json.loads(json.dumps(before)))
    rows = dict((row['host'], row) for row in after['hosts'])
    assert (rows['a']['hits_interval']['requested_tokens'], rows['a']['hits_interval']['hit_tokens']) == (1000, 50)
    assert rows['a']['hits_interval']['hit_ratio'] == 0.05 and rows['a']['hits_interval']['restarted'] is False
    assert rows['b']['hits_interval']['restarted'] is True and rows['b']['hits_interval']['requested_tokens'] == 100
    assert rows['new']['hits_interval'] is None
    # The cumulative ratio of a is 47.5%; over the interval it is 5%: the interval decides.
    assert reasons(after, 'a') == ['hit ratio 5.0% below 10.0% (50 of 1000 tokens, since the previous report)']
    assert reasons(after, 'b') == ['hit counters went down since the previous report: the server restarted']
    assert after['hits_interval']['requested_tokens'] == 1100 and after['hits_interval']['hosts'] == 2
    text = _report.markdown(after, chart=False)
    assert '- Since the previous report: 140 of 1100 tokens looked up were cached (12.7%)' in text


def test_a_host_open_to_anyone_is_an_outlier_naming_the_routes():
    exposure = dict(exposed=['POST /run_script', 'GET /env', 'GET /loglevel', 'POST /metrics/reset', 'POST /cache/clear'],
                    protected=[], unclear=[])
    report = _report.build_report({'open': server_info(exposure=exposure), 'closed': server_info(
        exposure=dict(exposed=[], protected=['POST /run_script'], unclear=[])), 'unaudited': server_info()})
    assert reasons(report, 'open') == ['open to anyone without an API key: POST /run_script, GET /env, GET /loglevel, '
                                       'POST /metrics/reset and 1 more']
    rows = dict((row['host'], row) for row in report['hosts'])
    assert rows['closed']['exposed'] == [] and rows['unaudited']['exposed'] is None
    assert reasons(report, 'closed') == [] and reasons(report, 'unaudited') == []


def test_the_markdown_shows_the_ratio_and_split_of_each_host():
    text = _report.markdown(_report.build_report({'gpu-01': server_info(0.25, hits=hits(2048, 1024, l1=768))}), chart=False)
    assert '| 0 | 50.0% | 75% / 25% |' in text
    assert '- Since each server started: 1024 of 2048 tokens looked up were cached (50.0%), L1 / L2 75% / 25%, over 1 hosts.' in text


def test_a_previous_report_is_read_from_its_directory_and_a_missing_one_is_none(tmp_path):
    report = _report.build_report({'a': server_info(hits=hits(10, 5))})
    files, _note = _report.report_files(report, drawer=None)
    _report.write_files(str(tmp_path), files, check_mode=False)
    assert _report.read_report(str(tmp_path))['hosts'][0]['hits']['hit_tokens'] == 5
    assert _report.read_report(str(tmp_path / 'nowhere')) is None


@pytest.mark.parametrize('content, problem', [
    (b'not json', 'cannot be read as a report'),
    (b'{"rows": []}', r'is not an LMCache fleet report \(no list of hosts\)'),
])
def test_a_previous_report_that_is_not_one_is_refused(tmp_path, content, problem):
    (tmp_path / 'lmcache-fleet-report.json').write_bytes(content)
    with pytest.raises(ValueError, match=problem):
        _report.read_report(str(tmp_path))


def test_a_fifo_planted_as_the_previous_report_is_refused_without_blocking(tmp_path):
    os.mkfifo(str(tmp_path / 'lmcache-fleet-report.json'))
    with pytest.raises(ValueError, match='is not a regular file'):
        _report.read_report(str(tmp_path))


def test_the_window_summary_says_the_hit_ratio_before_after_and_during_the_window():
    before = _report.build_report({'a': server_info(hits=hits(1000, 500))})
    after = _report.build_report({'a': server_info(hits=hits(1400, 600))}, previous=before)
    results = {'a': dict(changed=True, before=dict(objects=4), after=dict(objects=0), bytes_cleared=16777216,
                         version='0.5.6-g3e11e108', api_generation='G3')}
    lines = window_summary(results, False, before, after)
    assert lines[-2] == ('hit ratio: before 50.0% of 1000 tokens, after 42.9% of 1400 tokens (since each server started); '
                         'during the window 25.0% of 400 tokens')
    assert lines[-1].startswith('window: 1 hosts: 1 cleared')
    assert not any(line.startswith('hit ratio') for line in window_summary(results, False, before))


def test_results_from_a_file_are_read_as_the_fanout_wrote_them(tmp_path):
    path = tmp_path / 'hosts.json'
    path.write_text('{"node-0": {"healthy": true}, "node-1": {"failed": true, "msg": "no answer"}}')
    assert _report.read_results(str(path)) == {'node-0': {'healthy': True}, 'node-1': {'failed': True, 'msg': 'no answer'}}


@pytest.mark.parametrize('content, problem', [
    (b'[1, 2]', r'is not server info results by host \(not a JSON object\)'),
    (b'{"node-0": "healthy"}', 'is not server info results by host: the value of 1 hosts is not a result'),
    (b'{"node-0": ', 'cannot be read as server info results by host'),
])
def test_a_results_file_that_is_not_results_is_refused(tmp_path, content, problem):
    (tmp_path / 'hosts.json').write_bytes(content)
    with pytest.raises(ValueError, match=problem):
        _report.read_results(str(tmp_path / 'hosts.json'))


def test_a_fifo_planted_as_the_results_file_is_refused_without_blocking(tmp_path):
    os.mkfifo(str(tmp_path / 'hosts.json'))
    with pytest.raises(ValueError, match='is not a regular file'):
        _report.read_results(str(tmp_path / 'hosts.json'))
