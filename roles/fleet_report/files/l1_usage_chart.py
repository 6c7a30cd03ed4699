# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Draw L1 usage per host from a fleet report: python l1_usage_chart.py REPORT.json OUT.png

Prints 'written' when the PNG changed, 'unchanged' when it is the same, 'skipped: ...' without matplotlib.
"""

from __future__ import annotations

import io
import json
import os
import sys


def main(report_path: str, png_path: str) -> int:
    try:
        import matplotlib
        matplotlib.use('Agg')
        from matplotlib import pyplot
    except ImportError:
        print('skipped: matplotlib is not installed on the controller (pip install matplotlib)')
        return 0
    with open(report_path) as handle:
        rows = json.load(handle)['hosts']
    names = [row['host'] for row in rows]
    usage = [(row['l1_usage_ratio'] or 0) * 100 for row in rows]
    marks = [(row['eviction_watermark'] or 0) * 100 for row in rows]
    colors = ['#9e9e9e' if not row['healthy'] else '#d32f2f' if row['eviction_watermark'] and u >= m else '#1976d2'
              for row, u, m in zip(rows, usage, marks)]
    figure, axes = pyplot.subplots(figsize=(max(6, 0.6 * len(rows) + 2), 4), dpi=100)
    axes.bar(names, usage, color=colors)
    for index, mark in enumerate(marks):
        if mark:
            axes.hlines(mark, index - 0.4, index + 0.4, colors='#f57c00', linestyles='dashed')
    for index, value in enumerate(usage):
        axes.annotate('%.1f%%' % value, (index, value), ha='center', va='bottom', fontsize=8)
    axes.set_ylim(0, 100)
    axes.set_ylabel('L1 usage (%)')
    axes.set_title('LMCache L1 usage per host\n(dashed: eviction watermark; red: at or above it; grey: unhealthy or unreachable)',
                   fontsize=9)
    axes.tick_params(axis='x', labelrotation=45 if len(rows) > 8 else 0, labelsize=8)
    figure.tight_layout()
    image = io.BytesIO()
    # No timestamp in the file: the same fleet state gives the same bytes, so a re-run reports no change.
    figure.savefig(image, format='png', metadata={'Software': None})
    data = image.getvalue()
    if os.path.exists(png_path):
        with open(png_path, 'rb') as existing:
            if existing.read() == data:
                print('unchanged')
                return 0
    with open(png_path, 'wb') as out:
        out.write(data)
    print('written')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
