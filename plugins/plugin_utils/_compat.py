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
from ansible.plugins.loader import vars_loader


def task_environment(action: ActionBase) -> t.Dict[str, t.Any]:
    """The task's `environment:` as the module would get it; ActionBase builds it only in a private method."""
    environment: t.Dict[str, t.Any] = {}
    action._compute_environment_string(environment)  # pylint: disable=protected-access
    return environment


def base_result(action: ActionBase, tmp: t.Any, task_vars: t.Optional[t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    """ActionBase.run's result (the common keys, check mode and async refusals) for an action that runs its module
    itself, in this process, instead of through NormalAction.run."""
    return ActionBase.run(action, tmp, task_vars)


def inventory_of(hostvars: t.Any) -> t.Any:
    """The inventory behind task_vars['hostvars'] (HostVars keeps it in _inventory), or None."""
    return getattr(hostvars, '_inventory', None)


def variable_manager_of(hostvars: t.Any) -> t.Any:
    """The variable manager behind task_vars['hostvars'] (HostVars keeps it in _variable_manager), or None."""
    return getattr(hostvars, '_variable_manager', None)


def host_facts(manager: t.Any, name: str) -> bool:
    """Whether the host has facts (set_fact's, in _nonpersistent_fact_cache, or gathered, in _fact_cache): variables
    only the variable manager combines."""
    if getattr(manager, '_nonpersistent_fact_cache', {}).get(name):
        return True
    try:
        return bool(manager._fact_cache.get(name))  # pylint: disable=protected-access
    except KeyError:
        return False


def loaded_vars_plugins() -> t.Optional[t.List[str]]:
    """The names of the vars plugins ansible-core runs (vars_loader's instance cache, filled once it has run them),
    or None where that cannot be read."""
    cache = getattr(vars_loader, '_plugin_instance_cache', None)
    return list(cache) if isinstance(cache, dict) else None
