# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet filters: a fleet report's rows and outliers, and the maintenance window's summary table, from per-host
results (each host's module result, or the fan-out's results). Documented in fleet_report.yml and window_summary.yml."""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.formatters import bytes_to_human

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._report import build_report, release


def fleet_report(results: t.Mapping[str, t.Any], usage_warn: float = 0.7) -> t.Dict[str, t.Any]:
    if not isinstance(results, dict):
        raise AnsibleFilterError('fleet_report expects a dict of server_info results by host, got %s' % type(results).__name__)
    try:
        warn = float(usage_warn)
    except (TypeError, ValueError):
        raise AnsibleFilterError('fleet_report usage_warn must be a number from 0 to 1, got %r' % (usage_warn,))
    return build_report(results, warn)


def window_summary(results: t.Mapping[str, t.Any], check_mode: bool = False,
                   preflight: t.Optional[t.Mapping[str, t.Any]] = None) -> t.List[str]:
    """The maintenance window's table, one line per host, from clear results by host; hosts the pre-flight report
    (`preflight`, a fleet report) found unreachable or unhealthy are listed as left out, with the reason. The last
    line counts the hosts cleared, unchanged, left out, failed and not run: what the window did, never more."""
    if not isinstance(results, dict):
        raise AnsibleFilterError('window_summary expects a dict of clear results by host, got %s' % type(results).__name__)
    left_out = dict((row['host'], row.get('error') or 'not healthy: %s' % row.get('health_reason'))
                    for row in (preflight or {}).get('hosts', []) if isinstance(row, dict) and not row.get('healthy'))
    line = '%-12s %-24s %-4s %7s %6s %11s'
    lines = [line % ('host', 'LMCache', 'API', 'before', 'after', 'freed')]
    counts = dict(cleared=0, unchanged=0, left_out=0, failed=0, not_run=0)
    for host in sorted(set(results) | set(left_out)):
        result = results.get(host) if isinstance(results.get(host), dict) else {}
        if host in left_out and 'before' not in result:
            counts['left_out'] += 1
            lines.append('%-12s left out of the window: %s' % (host, left_out[host]))
        elif result.get('failed') or result.get('skipped') or 'before' not in result:
            counts['failed' if result.get('failed') else 'not_run'] += 1
            lines.append('%-12s not cleared: %s' % (host, result.get('msg') or 'no result'))
        else:
            counts['cleared' if result.get('changed') else 'unchanged'] += 1
            lines.append(line % (host, release(result) or '-', result.get('api_generation') or '-',
                                 result['before']['objects'], result['after']['objects'],
                                 bytes_to_human(result.get('bytes_cleared') or 0)))
    if check_mode:
        lines.append("check mode: nothing was cleared; 'after' is what a real run would leave, 'freed' what it would free")
    lines.append('window: %d hosts: %d %s, %d unchanged, %d left out, %d failed, %d not run' % (
        sum(counts.values()), counts['cleared'], 'would be cleared' if check_mode else 'cleared', counts['unchanged'],
        counts['left_out'], counts['failed'], counts['not_run']))
    return lines


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return dict(fleet_report=fleet_report, window_summary=window_summary)
