# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet reports on the controller: rows and outliers from server info results, and the JSON, Markdown and PNG files.

Used by the filters (plugins/filter/fleet_report.py, window_summary.py) and the lmcache_report action. Private to this collection.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import typing as t

from ansible.module_utils.common.text.formatters import bytes_to_human

from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import GENERATIONS, GENERATION_BY_NAME, SERVER
from ansible_collections.lmcache.kvcache.plugins.module_utils._metrics import interval, ratios
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._chart import ChartProcess
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._drift import drift, reasons_by_host

CURRENT_GENERATION = GENERATIONS[0].name
REPORT_FILES = ('lmcache-fleet-report.json', 'lmcache-fleet-report.md', 'lmcache-fleet-report.png')
# The hit counters a report keeps per host (from lmcache_server_info's hits), to total and to compare with the next.
HIT_COUNTERS = ('lookups', 'requested_tokens', 'hit_tokens', 'hit_tokens_l1', 'hit_tokens_l2')


def release(info: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """The version a server reports, else its generation's release range (G1 servers report none)."""
    generation = GENERATION_BY_NAME.get(info.get('api_generation') or '')
    return info.get('version') or (generation.releases if generation else None)


def build_report(results: t.Mapping[str, t.Any], usage_warn: float = 0.7, hit_ratio_warn: float = 0.1,
                 previous: t.Optional[t.Mapping[str, t.Any]] = None,
                 expected_config: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Dict[str, t.Any]:
    """{'hosts': [one row per host], 'outliers': [{'host', 'reason'}], 'hits': fleet totals} from server_info results
    by host; with `previous` (an earlier report of this fleet), each row's and the fleet's hits over the interval too.

    A host whose result is missing, failed or unreachable is a row too, with its error, and an outlier.
    """
    earlier = _rows_by_host(previous)
    rows: t.List[t.Dict[str, t.Any]] = []
    outliers: t.List[t.Dict[str, str]] = []
    for host in sorted(results):
        info = results[host] if isinstance(results[host], dict) else {}
        owner = info.get('duplicate_of')
        if isinstance(owner, str) and isinstance(results.get(owner), dict):
            # Not read because another host has its URL: the same server, so the same state, and an outlier.
            info = dict(results[owner], url=info.get('url'), duplicate_of=owner)
        row = _row(host, info, earlier.get(host) if previous is not None else None)
        rows.append(row)
        outliers += [dict(host=host, reason=reason) for reason in _outlier_reasons(row, info, usage_warn, hit_ratio_warn)]
    healthy = [row['host'] for row in rows if row['healthy']]
    report = dict(hosts=rows, outliers=outliers, hits=_totals(rows, 'hits'), host_count=len(rows), healthy_hosts=healthy,
                  healthy_count=len(healthy), unhealthy_hosts=[row['host'] for row in rows if not row['healthy']],
                  config_drift=None)
    if previous is not None:
        report['hits_interval'] = _totals(rows, 'hits_interval')
    # Configuration drift among the healthy nodes whose configuration was read (server_info's config=true).
    configs = dict((host, info['config']) for host, info in results.items()
                   if isinstance(info, dict) and info.get('healthy') and not info.get('duplicate_of')
                   and isinstance(info.get('config'), dict))
    if configs or expected_config:
        report['config_drift'] = drift(configs, expected_config)
        for host, reasons in sorted(reasons_by_host(report['config_drift']).items()):
            outliers.append(dict(host=host, reason='configuration differs: %s' % _some(reasons)))
    return report


def exceptions_only(report: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The report with the rows of the hosts an operator has to look at only: unreachable, not healthy, or with
    administrative routes open to anyone. What a play needs of a large fleet's report, without 10,000 rows or names in
    a variable (the files keep every row; host_count, healthy_count and unhealthy_hosts say the rest): no
    healthy_hosts, which Ansible would check name by name in every task that reads the report."""
    kept = dict((key, value) for key, value in report.items() if key != 'healthy_hosts')
    return dict(kept, hosts=[row for row in report['hosts'] if not row['healthy'] or row.get('exposed')])


def _row(host: str, info: t.Mapping[str, t.Any], earlier: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Any]:
    read = 'healthy' in info and not info.get('failed')
    l1 = info.get('l1') if read and isinstance(info.get('l1'), dict) else None
    hits = info.get('hits') if read and isinstance(info.get('hits'), dict) else None
    exposure = info.get('exposure') if read and isinstance(info.get('exposure'), dict) else None
    row = dict(
        host=host, url=info.get('url'), reachable=read,
        error=None if read else (info.get('msg') or 'no answer'),
        healthy=bool(info.get('healthy')) if read else False,
        health_reason=info.get('health_reason'),
        version=info.get('version'), release=release(info), api_generation=info.get('api_generation'),
        l1_objects=l1['objects'] if l1 else None, l1_bytes_used=l1['bytes_used'] if l1 else None,
        l1_bytes_total=l1['bytes_total'] if l1 else None, l1_usage_ratio=l1['usage_ratio'] if l1 else None,
        eviction_watermark=info.get('eviction_watermark'),
        l2_adapters=[a.get('type') for a in info.get('l2_adapters') or [] if isinstance(a, dict)],
        quotas=len(info.get('quotas') or []),
        active_sessions=info.get('active_sessions'),
        duplicate_of=info.get('duplicate_of'),
        hits=_hits(hits) if hits else None,
        exposed=list(exposure.get('exposed') or []) if exposure else None,
    )
    if earlier is not None:
        row['hits_interval'] = _hits_interval(row['hits'], earlier.get('hits'))
    return row


def _hits(counters: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    kept = dict((name, counters.get(name)) for name in HIT_COUNTERS)
    kept.update(ratios(kept))
    return kept


def _hits_interval(now: t.Optional[t.Mapping[str, t.Any]], then: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
    """The host's hits since the previous report: None where either report has no counters for it."""
    if not now or not isinstance(then, dict):
        return None
    delta = interval(now, then)
    kept = dict((name, delta[name]) for name in HIT_COUNTERS)
    kept.update(ratios(kept), restarted=delta['restarted'])
    return kept


def _rows_by_host(report: t.Optional[t.Mapping[str, t.Any]]) -> t.Dict[str, t.Mapping[str, t.Any]]:
    rows = report.get('hosts') if isinstance(report, dict) else None
    return dict((row['host'], row) for row in rows or [] if isinstance(row, dict) and isinstance(row.get('host'), str))


def _totals(rows: t.Sequence[t.Mapping[str, t.Any]], field: str) -> t.Dict[str, t.Any]:
    """The fleet's hits: each counter summed over the hosts that have it, and the ratios of the sums."""
    counted = [row[field] for row in rows if isinstance(row.get(field), dict)]
    totals: t.Dict[str, t.Any] = dict(hosts=len(counted))
    for name in HIT_COUNTERS:
        values = [c[name] for c in counted if isinstance(c.get(name), (int, float))]
        totals[name] = sum(values) if values else None
    totals.update(ratios(totals))
    return totals


def _outlier_reasons(row: t.Dict[str, t.Any], info: t.Mapping[str, t.Any], usage_warn: float,
                     hit_ratio_warn: float) -> t.List[str]:
    if row['duplicate_of']:
        return ['same URL as %s: one server, run once, as %s' % (row['duplicate_of'], row['duplicate_of'])]
    if not row['reachable']:
        return ['unreachable: %s' % row['error']]
    if not row['healthy']:
        return ['unhealthy: %s' % row['health_reason']]
    reasons = []
    ratio, watermark = row['l1_usage_ratio'], row['eviction_watermark']
    if info.get('above_eviction_watermark'):
        reasons.append('L1 at %.0f%%, at or above the eviction watermark (%.0f%%)' % (ratio * 100, watermark * 100))
    elif ratio is not None and ratio >= usage_warn:
        reasons.append('L1 at %.0f%%, above %.0f%%' % (ratio * 100, usage_warn * 100))
    generation = GENERATION_BY_NAME.get(row['api_generation'] or '')
    if generation is not None and generation.kind == SERVER and generation.name != CURRENT_GENERATION:
        reasons.append('old API generation %s (LMCache %s)' % (row['api_generation'], row['release']))
    reasons += _hit_reasons(row, hit_ratio_warn)
    if row['exposed']:
        reasons.append('open to anyone without an API key: %s' % _some(row['exposed']))
    return reasons


def _hit_reasons(row: t.Mapping[str, t.Any], hit_ratio_warn: float) -> t.List[str]:
    """A low hit ratio: over the interval since the previous report where there is one, else since the start."""
    since = row.get('hits_interval')
    reasons = []
    if since and since.get('restarted'):
        reasons.append('hit counters went down since the previous report: the server restarted')
    hits, when = (since, 'since the previous report') if since else (row['hits'], 'since the server started')
    if hits and hits.get('hit_ratio') is not None and hits['hit_ratio'] < hit_ratio_warn:
        reasons.append('hit ratio %s below %s (%s of %s tokens, %s)' % (
            _percent(hits['hit_ratio']), _percent(hit_ratio_warn), hits['hit_tokens'], hits['requested_tokens'], when))
    return reasons


def _some(items: t.Sequence[str], shown: int = 4) -> str:
    return ', '.join(items[:shown]) + (' and %d more' % (len(items) - shown) if len(items) > shown else '')


def _percent(ratio: t.Optional[float]) -> str:
    return '-' if ratio is None else '%.1f%%' % (ratio * 100)


def markdown(report: t.Mapping[str, t.Any], chart: bool) -> str:
    """The report as Markdown. Host names and every text a server sent are escaped (literal()), so that no name or
    status text of a node can break the table, or add HTML or a link to the fleet's report."""
    rows = report['hosts']
    lines = ['# LMCache fleet report', '',
             '%d hosts, %d healthy, %d outliers.' % (len(rows), sum(1 for r in rows if r['healthy']), len(report['outliers'])),
             '', '| Host | LMCache | API | Health | L1 objects | L1 used / total | Usage | Watermark | L2 adapters | Quotas '
             '| Hit ratio | L1 / L2 hits |',
             '|---|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|']
    for row in rows:
        health = 'healthy' if row['healthy'] else ('unreachable' if not row['reachable'] else 'unhealthy')
        used = ('%s / %s' % (bytes_to_human(row['l1_bytes_used']), bytes_to_human(row['l1_bytes_total']))
                if row['l1_bytes_total'] else '-')
        hits = row.get('hits') or {}
        lines.append('| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |' % (
            literal(row['host']), literal(row['release']), literal(row['api_generation']),
            health, row['l1_objects'] if row['l1_objects'] is not None else '-', used,
            _percent(row['l1_usage_ratio']),
            '%.0f%%' % (row['eviction_watermark'] * 100) if row['eviction_watermark'] is not None else '-',
            literal(', '.join(str(a) for a in row['l2_adapters'])), row['quotas'],
            _percent(hits.get('hit_ratio')), _split(hits)))
    lines += ['', '## Cache hits', ''] + _hits_lines(report)
    if report.get('config_drift'):
        lines += ['', '## Configuration drift', ''] + _drift_lines(report['config_drift'])
    lines += ['', '## Outliers', '']
    lines += ['- **%s**: %s' % (literal(o['host']), literal(o['reason'])) for o in report['outliers']] or ['None.']
    if chart:
        lines += ['', '![L1 usage](lmcache-fleet-report.png)']
    return '\n'.join(lines) + '\n'


def _drift_lines(found: t.Mapping[str, t.Any]) -> t.List[str]:
    """Each field not the same on every node compared, and each declared value some node does not have."""
    lines = ['Compared over %d healthy nodes; fields that name the node itself (its address, ports, ids, shared memory, '
             'key files) and fields a node\'s release does not have are not drift.' % found['nodes'], '']
    for entry in found['fields']:
        lines.append('- %s: the fleet\'s value %s; %d of %d differ: %s' % (
            literal(entry['field']), literal(json.dumps(entry['value'])), entry['differing_count'], entry['nodes'],
            literal(', '.join('%s (%s)' % (d['host'], json.dumps(d['value'])) for d in entry['differing']))))
    for entry in found['expected']:
        lines.append('- %s: declared %s; %s' % (
            literal(entry['field']), literal(json.dumps(entry['expected'])),
            literal('%d of %d differ: %s' % (entry['differing_count'], entry['nodes'], ', '.join(
                '%s (%s)' % (d['host'], json.dumps(d['value'])) for d in entry['differing'])))
            if entry['nodes'] else 'no node has this field'))
    return lines if len(lines) > 2 else lines + ['None: every field is the same on every node, and as declared.']


def _split(hits: t.Mapping[str, t.Any]) -> str:
    if hits.get('l1_hit_share') is None or hits.get('l2_hit_share') is None:
        return '-'
    return '%.0f%% / %.0f%%' % (hits['l1_hit_share'] * 100, hits['l2_hit_share'] * 100)


def _hits_lines(report: t.Mapping[str, t.Any]) -> t.List[str]:
    """The fleet's hit ratio since the servers started, and over the interval since the previous report."""
    lines = []
    for field, when in (('hits', 'since each server started'), ('hits_interval', 'since the previous report')):
        totals = report.get(field)
        if not totals:
            continue
        if not totals['hosts']:
            lines.append('- %s: no host reported hit counters.' % when.capitalize())
            continue
        lines.append('- %s: %s of %s tokens looked up were cached (%s), L1 / L2 %s, over %d hosts.' % (
            when.capitalize(), totals['hit_tokens'], totals['requested_tokens'], _percent(totals['hit_ratio']),
            _split(totals), totals['hosts']))
    return lines


_CONTROL = re.compile(r'[\x00-\x1f\x7f\u2028\u2029]+')
# What Markdown reads as markup in running text or a table cell: code, emphasis, links and images, HTML and entities,
# cell boundaries, and the ':' of a bare URL (GitHub links those; an escaped ':' is no longer a URL's).
_MARKUP = re.compile(r'([\\`*_\[\]|<>&~:])')
_WWW = re.compile(r'(www)\.', re.IGNORECASE)
# Any of the three: most values (host names, versions) have none and are taken as they are, without three passes.
_ESCAPED = re.compile('%s|%s|(?i:%s)' % (_CONTROL.pattern, _MARKUP.pattern, _WWW.pattern))


def literal(value: t.Any) -> str:
    """A value as Markdown text that renders as it is: one line, with every character Markdown reads as markup
    backslash-escaped (and 'www.' as 'www\\.'), so that it is never HTML, a link, emphasis or a table cell boundary.
    Plain names and versions are left as they are."""
    if value is None or value == '':
        return '-'
    text = str(value)
    if not _ESCAPED.search(text):
        return text
    return _WWW.sub(r'\1\\.', _MARKUP.sub(r'\\\1', _CONTROL.sub(' ', text)))


def report_json(report: t.Mapping[str, t.Any]) -> str:
    """The report as JSON, each item of a list of rows (the hosts, ...) on a line of its own and the rest indented:
    one host per line reads and greps well, and a 10,000-host report is written in a third of the time that indenting
    every field takes (json's C encoder writes each row)."""
    fields = []
    for key in sorted(report):
        value = report[key]
        if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            text = '[\n%s\n    ]' % ',\n'.join('        ' + json.dumps(item, sort_keys=True) for item in value)
        else:
            text = json.dumps(value, indent=4, sort_keys=True).replace('\n', '\n    ')
        fields.append('    %s: %s' % (json.dumps(key), text))
    return '{\n%s\n}\n' % ',\n'.join(fields)


def report_files(report: t.Mapping[str, t.Any],
                 drawer: t.Optional[ChartProcess]) -> t.Tuple[t.Dict[str, bytes], t.Optional[str]]:
    """The files to write, by name, and why there is no chart (None when there is one or none was asked for).
    `drawer`, the chart process started with the task (None: no chart), draws while the JSON and Markdown are written."""
    if drawer is not None:
        drawer.draw(report['hosts'])
    files = {REPORT_FILES[0]: report_json(report).encode()}
    text = markdown(report, drawer is not None)
    png = drawer.png() if drawer is not None else None
    if png is None and drawer is not None:
        # No matplotlib: the Markdown says nothing of a chart.
        text = markdown(report, False)
    files[REPORT_FILES[1]] = text.encode()
    note = 'matplotlib is not installed on the controller (pip install matplotlib)' if drawer is not None and png is None else None
    if png is not None:
        files[REPORT_FILES[2]] = png
    return files, note


MAX_REPORT_BYTES = 256 * 1024 * 1024


def read_report(path: str) -> t.Optional[t.Dict[str, t.Any]]:
    """A report written earlier (its JSON file, or a directory holding one), to compare with; None when there is none.

    Raises ValueError, saying why, for a file that is not a report (see read_json_file).
    """
    if os.path.isdir(path):
        path = os.path.join(path, REPORT_FILES[0])
    if not os.path.exists(path):
        return None
    report = read_json_file(path, 'a report')
    if not isinstance(report.get('hosts'), list):
        raise ValueError('%s is not an LMCache fleet report (no list of hosts)' % path)
    return report


def read_results(path: str) -> t.Dict[str, t.Any]:
    """Server info results by host from a file (lmcache_fanout's details_file). Raises ValueError, saying why."""
    results = read_json_file(path, 'server info results by host')
    bad = [name for name, value in results.items() if not isinstance(value, dict)]
    if bad:
        raise ValueError('%s is not server info results by host: the value of %d hosts is not a result' % (path, len(bad)))
    return results


def read_json_file(path: str, what: str) -> t.Dict[str, t.Any]:
    """A JSON object from a file the controller wrote. Only a regular file is read (never a FIFO planted there, which
    would block the task), up to MAX_REPORT_BYTES. Raises ValueError, saying why it cannot be `what`."""
    if not os.path.isfile(path):
        raise ValueError('%s is not a regular file' % path if os.path.exists(path) else '%s does not exist' % path)
    if os.path.getsize(path) > MAX_REPORT_BYTES:
        raise ValueError('%s is larger than %s can be (%d bytes)' % (path, what, MAX_REPORT_BYTES))
    try:
        with open(path, 'rb') as handle:
            value = json.loads(handle.read().decode('utf-8'))
    except (OSError, ValueError) as exc:
        raise ValueError('%s cannot be read as %s: %s' % (path, what, getattr(exc, 'strerror', None) or exc))
    if not isinstance(value, dict):
        raise ValueError('%s is not %s (not a JSON object)' % (path, what))
    return value


def write_files(directory: str, files: t.Mapping[str, bytes], check_mode: bool) -> t.List[str]:
    """Write what differs from what is there (all of it, in a new directory); the names of the files that changed.

    Each file is written to a temporary file that is created anew (O_EXCL: never one planted there, never through a
    link) inside `directory`, then renamed over the report file, which replaces a link there instead of following it.
    """
    changed = []
    for name, data in sorted(files.items()):
        path = os.path.join(directory, name)
        # Only a regular file of ours is read to compare: never a link planted there, nor a FIFO that would block.
        if os.path.isfile(path) and not os.path.islink(path):
            try:
                with open(path, 'rb') as handle:
                    if handle.read() == data:
                        continue
            except OSError:
                pass
        changed.append(name)
        if not check_mode:
            os.makedirs(directory, exist_ok=True)
            _write_atomically(directory, name, data)
    return changed


def _write_atomically(directory: str, name: str, data: bytes) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix='.%s.' % name, suffix='.tmp', dir=directory)
    try:
        with os.fdopen(descriptor, 'wb') as handle:
            handle.write(data)
            # mkstemp makes the file private; a report is for every reader of its directory, as before.
            os.fchmod(handle.fileno(), 0o644)
        os.replace(temporary, os.path.join(directory, name))
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
