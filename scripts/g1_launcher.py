# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Test-only launcher for LMCache 0.4.1 - 0.4.4 (API generation G1) on a machine without a GPU.

Those releases call torch.cuda.init() at start-up and so do not start unmodified on CPU. This stubs that one
call and runs the release's own HTTP server module, unchanged otherwise, with the arguments given.
Run it with the release's venv python: python g1_launcher.py --host ... --http-port ... --no-l1-use-lazy ...
"""

from __future__ import annotations

import runpy
import sys

import torch

torch.cuda.init = lambda: None
sys.argv[0] = 'lmcache.v1.multiprocess.http_server'
runpy.run_module('lmcache.v1.multiprocess.http_server', run_name='__main__', alter_sys=True)
