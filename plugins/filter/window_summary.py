# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""window_summary: the maintenance window's summary table from clear results by host (each host's module result, or
the fan-out's results)."""

from __future__ import annotations

DOCUMENTATION = r'''
name: window_summary
version_added: 0.1.0
short_description: The maintenance window's per-host summary table, from clear results by host
description:
  - One line per host (up to O(host_lines) hosts) with its LMCache release, API generation, L1 objects before and
    after, and the bytes freed, from the results of M(lmcache.kvcache.lmcache_kvcache_clear) keyed by host (each host's task, or the fan-out's
    results). A host whose clear failed or did not run says why.
  - Hosts that the pre-flight report (O(preflight)) found unreachable or unhealthy are listed as left out of the
    window, with the reason.
  - The last line counts the hosts cleared (objects left their L1), unchanged, left out, failed and not run (for
    example a host whose URL another host of the window has), starting with C(window:).
  - With the post-window report (O(postflight)), a line with the fleet's hit ratio before the window (since each
    server started, from O(preflight)) and after it, and during the window where the post-window report was made
    against the pre-flight one (its C(previous)).
positional: check_mode, preflight, postflight
options:
  _input:
    description: Clear results, keyed by host.
    type: dict
    required: true
  check_mode:
    description: Whether the window ran in check mode; adds a line that says so.
    type: bool
    default: false
  preflight:
    description: The pre-flight fleet report (RV(lmcache.kvcache.lmcache_report#module:report), or the role fact C(fleet_report_result)).
    type: dict
  postflight:
    description: The post-window fleet report, for the hit ratios.
    type: dict
    version_added: 0.2.0
  host_lines:
    description:
      - At most this many hosts get a line. Above it, only the hosts the window did not clear (left out, failed, not
        run) are listed, up to this many, and a line says how many cleared or unchanged hosts are not; the fleet
        reports have every host.
    type: int
    default: 100
    version_added: 0.2.0
  clear_summary:
    description:
      - The fan-out's RV(lmcache.kvcache.lmcache_fanout#module:summary) of the clear (the role fact
        C(kvcache_clear_summary)), when the results are only the hosts the fan-out did not clear as asked (above 100
        hosts, RV(lmcache.kvcache.lmcache_fanout#module:results) leaves the others out). The counts of hosts cleared and
        unchanged, and the engines' line, come from it then.
    type: dict
    version_added: 0.2.0
author:
  - LMCache maintainers (@LMCache)
'''

EXAMPLES = r'''
- name: Show what the window did
  ansible.builtin.debug:
    msg: "{{ window.results | lmcache.kvcache.window_summary(ansible_check_mode, preflight_report) }}"

- name: Show what the window did, and the fleet's hit ratio before, during and after it
  ansible.builtin.debug:
    msg: "{{ window.results | lmcache.kvcache.window_summary(ansible_check_mode, preflight_report, post_report) }}"

- name: Show what a fan-out window over 10,000 hosts did (its results are the hosts it did not clear)
  ansible.builtin.debug:
    msg: "{{ kvcache_clear_results | lmcache.kvcache.window_summary(ansible_check_mode, preflight_report, clear_summary=kvcache_clear_summary) }}"

- name: Show every host of a 5,000-host window, not only the ones it did not clear
  ansible.builtin.debug:
    msg: "{{ window.results | lmcache.kvcache.window_summary(ansible_check_mode, preflight_report, host_lines=5000) }}"
'''

RETURN = r'''
_value:
  description: The table's lines, a header line first.
  type: list
  elements: str
'''

import typing as t

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.formatters import bytes_to_human

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._report import release


def window_summary(results: t.Mapping[str, t.Any], check_mode: bool = False,
                   preflight: t.Optional[t.Mapping[str, t.Any]] = None,
                   postflight: t.Optional[t.Mapping[str, t.Any]] = None, host_lines: int = 100,
                   clear_summary: t.Optional[t.Mapping[str, t.Any]] = None) -> t.List[str]:
    """The maintenance window's table, one line per host, from clear results by host; hosts the pre-flight report
    (`preflight`, a fleet report) found unreachable or unhealthy are listed as left out, with the reason. The last
    line counts the hosts cleared, unchanged, left out, failed and not run: what the window did, never more. With the
    fan-out's summary (`clear_summary`), hosts whose results it left out count as it counted them."""
    if not isinstance(results, dict):
        raise AnsibleFilterError('window_summary expects a dict of clear results by host, got %s' % type(results).__name__)
    if clear_summary is not None and not isinstance(clear_summary, dict):
        raise AnsibleFilterError('window_summary: clear_summary must be the fan-out\'s summary (a dict), got %s'
                                 % type(clear_summary).__name__)
    left_out_results = (clear_summary or {}).get('results_left_out') or 0
    left_out = dict((row['host'], row.get('error') or 'not healthy: %s' % row.get('health_reason'))
                    for row in (preflight or {}).get('hosts', []) if isinstance(row, dict) and not row.get('healthy'))
    line = '%-12s %-24s %-6s %7s %6s %11s'
    counts = dict(cleared=0, unchanged=0, left_out=0, failed=0, not_run=0)
    table = []  # (whether the window did what it was asked on the host, its line)
    for host in sorted(set(results) | set(left_out)):
        result = results.get(host) if isinstance(results.get(host), dict) else {}
        if host in left_out and 'before' not in result:
            counts['left_out'] += 1
            table.append((False, '%-12s left out of the window: %s' % (host, left_out[host])))
        elif result.get('failed') or result.get('skipped') or 'before' not in result:
            counts['failed' if result.get('failed') else 'not_run'] += 1
            table.append((False, '%-12s not cleared: %s' % (host, result.get('msg') or 'no result')))
        else:
            counts['cleared' if result.get('changed') else 'unchanged'] += 1
            table.append((True, line % (host, release(result) or '-', result.get('api_generation') or '-',
                                        result['before']['objects'], result['after']['objects'],
                                        bytes_to_human(result.get('bytes_cleared') or 0))))
    if left_out_results:
        # Every host the fan-out left out was cleared or unchanged: its own counts over them all.
        counts['cleared'], counts['unchanged'] = int(clear_summary.get('changed') or 0), int(clear_summary.get('unchanged') or 0)
    lines = [line % ('host', 'LMCache', 'API', 'before', 'after', 'freed')]
    if len(table) <= host_lines and not left_out_results:
        lines += [text for _done, text in table]
    else:
        # A screen, not 10,000 lines: the hosts the window did not clear, then how many it did.
        not_done = [text for done, text in table if not done]
        lines += not_done[:host_lines]
        if len(not_done) > host_lines:
            lines.append('... and %d more hosts not cleared' % (len(not_done) - host_lines))
        why = ('the fan-out\'s results leave them out' if left_out_results else 'more than %d hosts' % host_lines)
        lines.append('%d hosts cleared or unchanged are not listed (%s; the reports have every host)'
                     % (counts['cleared'] + counts['unchanged'], why))
    if check_mode:
        lines.append("check mode: nothing was cleared; 'after' is what a real run would leave, 'freed' what it would free")
    totals = (clear_summary or {}).get('totals')
    if left_out_results and isinstance(totals, dict):
        engines, frozen = totals.get('engines') or 0, totals.get('engines_froze_stores') or 0
    else:
        read = [r for r in results.values() if isinstance(r, dict) and r.get('kind') == 'engine' and 'before' in r]
        engines, frozen = len(read), sum(1 for r in read if r.get('froze_stores'))
    if engines:
        lines.append('engines: %d; stores %s frozen by the window for the clear, and unfrozen after it, on %d (the others '
                     'had nothing to clear, or were frozen already and stay so)'
                     % (engines, 'would be' if check_mode else 'were', frozen))
    if postflight:
        lines.append(_hit_ratios(preflight or {}, postflight))
    lines.append('window: %d hosts: %d %s, %d unchanged, %d left out, %d failed, %d not run' % (
        sum(counts.values()), counts['cleared'], 'would be cleared' if check_mode else 'cleared', counts['unchanged'],
        counts['left_out'], counts['failed'], counts['not_run']))
    return lines


def _hit_ratios(before: t.Mapping[str, t.Any], after: t.Mapping[str, t.Any]) -> str:
    """The fleet's hit ratio before and after the window (since each server started), and during it."""
    def ratio(totals: t.Any) -> str:
        if not isinstance(totals, dict) or totals.get('hit_ratio') is None:
            return 'unknown' if not isinstance(totals, dict) or not totals.get('hosts') else 'none looked up'
        return '%.1f%% of %s tokens' % (totals['hit_ratio'] * 100, totals['requested_tokens'])
    line = 'hit ratio: before %s, after %s (since each server started)' % (ratio(before.get('hits')), ratio(after.get('hits')))
    if 'hits_interval' in after:
        line += '; during the window %s' % ratio(after['hits_interval'])
    return line


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return dict(window_summary=window_summary)
