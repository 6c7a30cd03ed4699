# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report's files: what is in them, and that writing them again changes nothing."""

from __future__ import annotations

import json
import re
import sys
import typing as t

import pytest
from hypothesis import given, strategies as st

from ansible_collections.lmcache.kvcache.plugins.plugin_utils import _chart, _report
from ansible_collections.lmcache.kvcache.tests.unit.fleet_results import server_info


def fleet(hosts: int) -> t.Dict[str, t.Any]:
    return _report.build_report(dict(('gpu-%04d' % n, server_info(n % 10 / 10.0)) for n in range(hosts)))


def test_markdown_has_a_row_per_host_and_the_outliers() -> None:
    text = _report.markdown(_report.build_report({'gpu-01': server_info(0.25), 'gpu-02': server_info(0.9)}), chart=False)
    assert '2 hosts, 2 healthy, 1 outliers.' in text
    assert '| gpu-01 | 0.5.6-g3e11e108 | G3 | healthy | 10 | 256.00 MB / 1.00 GB | 25.0% | 80% | LocalDiskL2Adapter | 0 |' in text
    assert '- **gpu-02**: L1 at 90%, at or above the eviction watermark (80%)' in text
    assert '![L1 usage]' not in text


def test_writing_the_same_report_twice_changes_nothing(tmp_path: t.Any) -> None:
    files, note = _report.report_files(fleet(3), drawer=None)
    assert note is None
    assert sorted(files) == ['lmcache-fleet-report.json', 'lmcache-fleet-report.md']
    assert json.loads(files['lmcache-fleet-report.json'])['hosts'][0]['host'] == 'gpu-0000'
    directory = str(tmp_path / 'report')
    written = _report.write_files(directory, files, check_mode=False)
    assert written == ['lmcache-fleet-report.json', 'lmcache-fleet-report.md']
    assert _report.write_files(directory, files, check_mode=False) == []
    files['lmcache-fleet-report.md'] += b'changed\n'
    assert _report.write_files(directory, files, check_mode=False) == ['lmcache-fleet-report.md']


def test_the_json_file_is_the_report_with_a_line_per_host() -> None:
    report = _report.build_report({'gpu-0000': server_info(0.25), 'unreachable': {'failed': True, 'msg': 'timed out'},
                                   'gpu-0002': server_info(0.95)})
    text = _report.report_files(report, drawer=None)[0]['lmcache-fleet-report.json'].decode()
    assert json.loads(text) == json.loads(json.dumps(report))
    lines = text.splitlines()
    for row in report['hosts'] + report['outliers']:
        assert sum(1 for line in lines if line.strip().rstrip(',') == json.dumps(row, sort_keys=True)) == 1
    assert lines[0] == '{' and lines[-1] == '}'


def test_check_mode_reports_the_files_it_would_write_and_writes_none(tmp_path: t.Any) -> None:
    files, _note = _report.report_files(fleet(2), drawer=None)
    directory = tmp_path / 'report'
    assert len(_report.write_files(str(directory), files, check_mode=True)) == 2
    assert not directory.exists()


def test_without_matplotlib_the_report_says_why_it_has_no_chart(monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    # No matplotlib here, and no chart process to draw (a Python that is not there): the task's process has the word.
    monkeypatch.setitem(sys.modules, 'matplotlib', None)
    monkeypatch.setattr(sys, 'executable', str(tmp_path / 'no-python'))
    with _chart.ChartProcess() as drawer:
        files, note = _report.report_files(fleet(2), drawer)
    assert note == 'matplotlib is not installed on the controller (pip install matplotlib)'
    assert 'lmcache-fleet-report.png' not in files
    assert b'lmcache-fleet-report.png' not in files['lmcache-fleet-report.md']


@pytest.mark.parametrize('hosts', [3, _chart.CHART_BARS_MAX_HOSTS + 1])
def test_the_chart_process_draws_the_chart_this_process_would(hosts: int, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('matplotlib')
    report = fleet(hosts)
    expected = _chart.chart_png(report['hosts'])
    # Only the chart's process may draw.
    monkeypatch.setattr(_chart, 'chart_png', lambda rows: pytest.fail('the chart was drawn in the task\'s process'))
    with _chart.ChartProcess() as drawer:
        files, note = _report.report_files(report, drawer)
    assert note is None and files['lmcache-fleet-report.png'] == expected
    assert b'](lmcache-fleet-report.png)' in files['lmcache-fleet-report.md']


def test_a_chart_process_that_fails_leaves_the_chart_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip('matplotlib')
    monkeypatch.setattr(sys, 'executable', '/bin/false')
    report = fleet(2)
    with _chart.ChartProcess() as drawer:
        files, _note = _report.report_files(report, drawer)
    assert files['lmcache-fleet-report.png'] == _chart.chart_png(report['hosts'])


def test_a_chart_process_that_cannot_start_leaves_the_chart_to_this_process(
        monkeypatch: pytest.MonkeyPatch, tmp_path: t.Any) -> None:
    pytest.importorskip('matplotlib')
    monkeypatch.setattr(sys, 'executable', str(tmp_path / 'no-python'))
    report = fleet(2)
    with _chart.ChartProcess() as drawer:
        files, _note = _report.report_files(report, drawer)
    assert files['lmcache-fleet-report.png'] == _chart.chart_png(report['hosts'])


@pytest.mark.parametrize('hosts', [3, _chart.CHART_BARS_MAX_HOSTS + 1])
def test_the_chart_is_the_same_bytes_for_the_same_fleet(hosts: int) -> None:
    pytest.importorskip('matplotlib')
    first, second = _chart.chart_png(fleet(hosts)['hosts']), _chart.chart_png(fleet(hosts)['hosts'])
    assert first is not None and first.startswith(b'\x89PNG')
    assert first == second


MARKUP = '\\`*_[]|<>&~:'


@given(st.text(alphabet=st.sampled_from(list(MARKUP + 'wW. \t\n\r\x00\x7f\u2028\u2029a-9é')) | st.characters(), max_size=30))
def test_a_text_in_the_markdown_is_one_line_every_markup_escaped_and_nothing_else_changed(text):
    shown = _report.literal(text)
    if text == '':
        assert shown == '-'
        return
    assert not re.search('[\x00-\x1f\x7f\u2028\u2029]', shown)
    # Reading it back: every markup character follows a backslash, and so does every 'www.' dot.
    read, position = [], 0
    while position < len(shown):
        if shown[position] == '\\':
            assert shown[position + 1] in MARKUP + '.', shown
            read.append(shown[position + 1])
            position += 2
            continue
        assert shown[position] not in MARKUP, shown
        read.append(shown[position])
        position += 1
    assert not re.search('(?i)www\\.', shown.replace('\\.', ''))
    assert ''.join(read) == re.sub('[\x00-\x1f\x7f\u2028\u2029]+', ' ', text)
