# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""python -m lmcache.v1.standalone with the arguments given, as a script: the fork server (scripts/forkserver.py) runs
scripts, and LMCache's standalone starter is a module. It runs the genuine LMCache engine, as vLLM embeds it, CPU-only,
with its internal API server (test fleets only)."""

from __future__ import annotations

import runpy
import sys

if __name__ == '__main__':
    sys.argv[0] = 'lmcache.v1.standalone'
    runpy.run_module('lmcache.v1.standalone', run_name='__main__', alter_sys=True)
