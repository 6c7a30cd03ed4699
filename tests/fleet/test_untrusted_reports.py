# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report on the controller when host names and server texts are an attacker's: the files written, the
file system around them, and the Markdown as a renderer shows it (docs/docsite/rst/security.rst)."""

from __future__ import annotations

import json
import os
import re

import pytest
from markdown_it import MarkdownIt

from ansible_collections.lmcache.kvcache.plugins.plugin_utils import _chart, _report
from ansible_collections.lmcache.kvcache.tests.unit.fleet_results import server_info

HOSTILE_TEXTS = [
    'gpu|01\n| injected | row |',
    '<img src=x onerror=alert(1)>',
    '[release notes](https://evil.example/phish)',
    'see https://evil.example/steal and www.evil.example',
    '**urgent**: _clear_ `everything`',
    '$\\frac{a}{b}$ $x$',
    '\\| escaped \\\\ backslash',
]


def unhealthy(reason):
    info = server_info(0.2)
    info.update(healthy=False, health_reason=reason)
    return info


def rendered(text):
    return MarkdownIt('commonmark').enable('table').render(text)


@pytest.mark.parametrize('hostile', HOSTILE_TEXTS)
def test_hostile_names_and_server_texts_stay_text_in_the_markdown(hostile):
    report = _report.build_report({hostile: server_info(0.2), 'gpu-02': unhealthy(hostile),
                                   'gpu-03': dict(server_info(0.3), version=hostile)})
    text = _report.markdown(report, chart=False)
    table = [line for line in text.splitlines() if line.startswith('|')]
    # A header, its rule and one row per host: nothing broke out of a cell or added a row.
    assert len(table) == 5 and all(len(re.split(r'(?<!\\)\|', line)) == 14 for line in table)
    html = rendered(text)
    assert '<img' not in html and '<a ' not in html and '<em>' not in html and '<strong>**' not in html
    assert 'http://' not in text and 'https://' not in text and 'www.' not in text
    # What a reader sees is the text as the server sent it (on one line).
    shown = re.sub(r'<[^>]+>', '', html).replace('&lt;', '<').replace('&gt;', '>').replace('&amp;', '&').replace('&quot;', '"')
    assert ' '.join(hostile.split('\n')) in shown


@pytest.mark.parametrize('name', ['$\\frac{a}{b}$', '$x', '$$', 'a$b$c', '\\$\\'])
def test_a_host_name_with_math_text_draws_the_chart_as_literal_text(name):
    report = _report.build_report({name: server_info(0.5), 'gpu-02': server_info(0.1)})
    with _chart.ChartProcess() as drawer:
        drawer.draw(report['hosts'])
        png = drawer.png()
    assert png is not None and png.startswith(b'\x89PNG') and len(png) > 1000


def test_the_report_writer_never_follows_a_link_planted_in_dest(tmp_path):
    dest, outside = tmp_path / 'reports', tmp_path / 'outside'
    dest.mkdir()
    outside.mkdir()
    victim = outside / 'authorized_keys'
    victim.write_text('ssh-ed25519 AAAA operator\n')
    for name in _report.REPORT_FILES:
        # The 0.1.0 writer's own temporary names, and the report names themselves.
        os.symlink(str(victim), str(dest / (name + '.tmp')))
    os.symlink(str(victim), str(dest / 'lmcache-fleet-report.md'))
    files, _note = _report.report_files(_report.build_report({'gpu-01': server_info(0.2)}), drawer=None)
    changed = _report.write_files(str(dest), files, check_mode=False)
    assert changed == ['lmcache-fleet-report.json', 'lmcache-fleet-report.md']
    assert victim.read_text() == 'ssh-ed25519 AAAA operator\n'
    assert not os.path.islink(str(dest / 'lmcache-fleet-report.md'))
    assert json.loads((dest / 'lmcache-fleet-report.json').read_text())['hosts'][0]['host'] == 'gpu-01'
    leftovers = [n for n in os.listdir(str(dest)) if not os.path.islink(str(dest / n)) and n.endswith('.tmp')]
    assert leftovers == []


def test_a_fifo_planted_as_a_report_file_neither_blocks_nor_survives(tmp_path):
    fifo = tmp_path / 'lmcache-fleet-report.json'
    os.mkfifo(str(fifo))
    files, _note = _report.report_files(_report.build_report({'gpu-01': server_info(0.2)}), drawer=None)
    # Reading a FIFO with no writer would block for ever; the writer replaces it instead.
    assert _report.write_files(str(tmp_path), files, check_mode=False) == sorted(files)
    assert fifo.is_file() and json.loads(fifo.read_text())['hosts'][0]['host'] == 'gpu-01'


def test_report_files_are_readable_and_written_whole(tmp_path):
    files, _note = _report.report_files(_report.build_report({'gpu-01': server_info(0.2)}), drawer=None)
    _report.write_files(str(tmp_path), files, check_mode=False)
    for name in files:
        assert (tmp_path / name).read_bytes() == files[name]
        assert os.stat(str(tmp_path / name)).st_mode & 0o777 == 0o644


def test_a_duplicate_host_is_reported_as_its_owner_and_as_an_outlier():
    copy = {'skipped': True, 'duplicate_of': 'gpu-01', 'url': 'http://10.0.0.1:8080'}
    report = _report.build_report({'gpu-01': server_info(0.2), 'gpu-copy': copy})
    row = [r for r in report['hosts'] if r['host'] == 'gpu-copy'][0]
    assert row['healthy'] and row['duplicate_of'] == 'gpu-01' and row['l1_objects'] == server_info(0.2)['l1']['objects']
    assert {'host': 'gpu-copy', 'reason': 'same URL as gpu-01: one server, run once, as gpu-01'} in report['outliers']
