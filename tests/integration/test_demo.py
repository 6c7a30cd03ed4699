# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every way the README shows to run the demo (./scripts/demo.sh and its variants) runs to the end and exits 0, as a
newcomer would run it: each starts its own genuine fleet, runs the window and stops the fleet."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


def readme_variants():
    with open(os.path.join(ROOT, 'README.md')) as handle:
        text = handle.read()
    # The set-up block's command (the main job), and every variant the text shows in backticks.
    assert re.search(r'^\./scripts/demo\.sh +#', text, re.MULTILINE)
    found = sorted(set(['./scripts/demo.sh'] + [c.strip() for c in re.findall(r'`(\./scripts/demo\.sh[^`]*)`', text)]))
    assert len(found) >= 3, found
    return found


@pytest.mark.parametrize('command', readme_variants())
def test_each_demo_the_readme_shows_exits_0(command):
    environment = dict(os.environ)
    # The demo lays the collection out in the clone's build/ and uses its own venv; nothing of the test's own.
    for name in ('ANSIBLE_COLLECTIONS_PATH', 'PYTHONPATH'):
        environment.pop(name, None)
    done = subprocess.run(command.split(), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, env=environment, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-6000:]
    summary = re.search(r'"window: 6 hosts: (\d) (cleared|would be cleared), (\d) unchanged, 0 left out, 0 failed, 0 not run"',
                        done.stdout)
    assert summary and summary.group(1) == '5', done.stdout[-6000:]
    assert ('--check' in command) == (summary.group(2) == 'would be cleared')
    assert ('no fleet report: in check mode' in done.stdout) == ('--check' in command)
