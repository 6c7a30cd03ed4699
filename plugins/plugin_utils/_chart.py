# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet report's chart (L1 usage per host) as PNG bytes, drawn with matplotlib, here or in a process of its own.

Importing matplotlib takes about a second, as long as reading and building a 10,000-host report. ChartProcess starts a
Python that imports it while the report is built, then draws while the Markdown and JSON are written. This file is
also that process's script: it imports nothing but the standard library and matplotlib. Private to this collection.
"""

from __future__ import annotations

import importlib
import io
import json
import subprocess
import sys
import threading
import typing as t

# Up to this many hosts the chart has a bar per host; above, a histogram of L1 usage.
CHART_BARS_MAX_HOSTS = 60
# What of a report's row the chart draws.
CHART_FIELDS = ('host', 'healthy', 'l1_usage_ratio', 'eviction_watermark')
# How long the chart process may take; past it, the chart is drawn in the task's own process.
CHART_PROCESS_SECONDS = 120


def chart_png(rows: t.Sequence[t.Mapping[str, t.Any]]) -> t.Optional[bytes]:
    """L1 usage per host (or, for a large fleet, how many hosts at which usage) as PNG bytes; None without matplotlib."""
    try:
        import matplotlib
        matplotlib.use('Agg')
        from matplotlib import pyplot
    except ImportError:
        return None
    usage = [(row['l1_usage_ratio'] or 0) * 100 for row in rows]
    marks = [(row['eviction_watermark'] or 0) * 100 for row in rows]
    if len(rows) <= CHART_BARS_MAX_HOSTS:
        colors = ['#9e9e9e' if not row['healthy'] else '#d32f2f' if row['eviction_watermark'] and u >= m else '#1976d2'
                  for row, u, m in zip(rows, usage, marks)]
        figure, axes = pyplot.subplots(figsize=(max(6, 0.6 * len(rows) + 2), 4), dpi=100)
        axes.bar(range(len(rows)), usage, color=colors)
        # Host names are labels as they are: never math text ($...$), which a name could also use to crash the chart.
        axes.set_xticks(range(len(rows)))
        axes.set_xticklabels([row['host'] for row in rows], parse_math=False)
        for index, mark in enumerate(marks):
            if mark:
                axes.hlines(mark, index - 0.4, index + 0.4, colors='#f57c00', linestyles='dashed')
        for index, value in enumerate(usage):
            axes.annotate('%.1f%%' % value, (index, value), ha='center', va='bottom', fontsize=8)
        axes.set_ylim(0, 100)
        axes.set_ylabel('L1 usage (%)')
        axes.set_title('LMCache L1 usage per host\n(dashed: eviction watermark; red: at or above it; grey: unhealthy or '
                       'unreachable)', fontsize=9)
        axes.tick_params(axis='x', labelrotation=45 if len(rows) > 8 else 0, labelsize=8)
    else:
        healthy = [u for row, u in zip(rows, usage) if row['healthy']]
        figure, axes = pyplot.subplots(figsize=(8, 4), dpi=100)
        axes.hist(healthy, bins=[step * 5 for step in range(21)], color='#1976d2')
        watermark = next((m for m in marks if m), None)
        if watermark:
            axes.axvline(watermark, color='#f57c00', linestyle='dashed')
        axes.set_xlim(0, 100)
        axes.set_xlabel('L1 usage (%)')
        axes.set_ylabel('hosts')
        axes.set_title('LMCache L1 usage over %d healthy hosts of %d (dashed: eviction watermark)'
                       % (len(healthy), len(rows)), fontsize=9)
    figure.tight_layout()
    image = io.BytesIO()
    # No timestamp in the file: the same fleet state gives the same bytes, so a re-run reports no change.
    figure.savefig(image, format='png', metadata={'Software': None})
    pyplot.close(figure)
    return image.getvalue()


class ChartProcess:
    """A Python process, started now, that imports matplotlib and then draws the chart of the rows it is sent.

    Where it cannot start or does not give a chart (no matplotlib there, a failure), `png` draws the chart in this
    process, so the answer is always this process's own. A context manager: leaving it ends the process.
    """

    def __init__(self) -> None:
        try:
            # -P: the script's directory is not put on sys.path (its neighbours are this collection's modules).
            self._process: t.Optional[subprocess.Popen] = subprocess.Popen(
                [sys.executable, '-P', __file__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL)
        except (OSError, ValueError):
            self._process = None
        self._rows: t.Sequence[t.Mapping[str, t.Any]] = ()

    def __enter__(self) -> 'ChartProcess':
        return self

    def __exit__(self, *_exc: t.Any) -> None:
        self.close()

    def draw(self, rows: t.Sequence[t.Mapping[str, t.Any]]) -> None:
        """Send the rows to draw; the process draws them while this one goes on."""
        self._rows = rows
        process = self._process
        if process is None or process.stdin is None:
            return
        try:
            process.stdin.write(json.dumps([[row.get(name) for name in CHART_FIELDS] for row in rows]).encode())
            process.stdin.close()
        except OSError:
            self.close()
            return
        # communicate() must not flush the stream closed here.
        process.stdin = None

    def png(self) -> t.Optional[bytes]:
        """The chart of the rows sent (None without matplotlib)."""
        process = self._process
        if process is not None:
            try:
                data = process.communicate(timeout=CHART_PROCESS_SECONDS)[0]
            except subprocess.TimeoutExpired:
                data = b''
            self.close()
            if process.returncode == 0 and data[:1] == b'1':
                return data[1:]
        return chart_png(self._rows)

    def close(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None and not stream.closed:
                stream.close()


def _serve() -> None:
    """The chart process: read the rows (while matplotlib is imported), draw, write b'1' and the PNG, or b'0'."""
    received: t.List[bytes] = []
    reader = threading.Thread(target=lambda: received.append(sys.stdin.buffer.read()))
    reader.start()
    try:
        import matplotlib
        matplotlib.use('Agg')
        importlib.import_module('matplotlib.pyplot')
    except ImportError:
        pass
    reader.join()
    rows = [dict(zip(CHART_FIELDS, row)) for row in json.loads(received[0].decode() or '[]')]
    png = chart_png(rows)
    sys.stdout.buffer.write(b'0' if png is None else b'1' + png)


if __name__ == '__main__':
    _serve()
