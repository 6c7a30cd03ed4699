# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one place this collection's action plugins reach into ansible-core's private names; tested on every supported
line (tests/unit/plugins/plugin_utils/test_compat.py), so that a new ansible-core that renames one breaks that test,
not a task (kubernetes.core's controller-side runner broke that way on 2.19).

Private to this collection.
"""

from __future__ import annotations

import typing as t

from ansible.plugins.action import ActionBase


def task_environment(action: ActionBase) -> t.Dict[str, t.Any]:
    """The task's `environment:` as the module would get it; ActionBase builds it only in a private method."""
    environment: t.Dict[str, t.Any] = {}
    action._compute_environment_string(environment)  # pylint: disable=protected-access
    return environment


def base_result(action: ActionBase, tmp: t.Any, task_vars: t.Optional[t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    """ActionBase.run's result (the common keys, check mode and async refusals) for an action that runs its module
    itself, in this process, instead of through NormalAction.run."""
    return ActionBase.run(action, tmp, task_vars)
