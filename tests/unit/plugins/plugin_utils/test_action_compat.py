# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The private ansible-core names the action plugins use are still there and take what the shim passes (run on every
supported ansible-core)."""

from __future__ import annotations

import inspect

from ansible.plugins.action import ActionBase


def test_action_base_still_builds_the_task_environment_in_place() -> None:
    parameters = list(inspect.signature(ActionBase._compute_environment_string).parameters)
    assert parameters[:2] == ['self', 'raw_environment_out']


def test_action_base_run_still_takes_tmp_and_task_vars() -> None:
    assert list(inspect.signature(ActionBase.run).parameters)[:3] == ['self', 'tmp', 'task_vars']
