# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A few variables of many hosts, for the fan-out, without a variable lookup per host through the variable manager.

hostvars[name] builds every variable of a host (its groups', its vars plugins', its facts) to give one back: about a
millisecond a host, 1.4 s to 11 s for 10,000 (benchmarks/README.md). The fan-out needs two or three variables of each
host. They are read here from the inventory itself: the host's own variables over its groups' (combined once per set
of groups, in the order and with the sources ansible-core uses: inventory, then vars plugins of the inventory sources
and of the playbook's directory), with the extra variables over all. Where that may not be what hostvars would give,
the host is read through hostvars, as before: a host with facts (set_fact), a host_vars directory next to the
inventory or the playbook, or a value that is a template or vaulted.

Private to this collection.
"""

from __future__ import annotations

import os
import typing as t

from ansible import constants as C
from ansible.inventory.helpers import get_group_vars, sort_groups
from ansible.utils.vars import combine_vars
from ansible.vars.plugins import get_vars_from_inventory_sources, get_vars_from_path

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._compat import (
    host_facts, inventory_of, loaded_vars_plugins, variable_manager_of)

_MISSING = object()
# The vars plugin whose host-level variables this module can see without a look per host (host_vars directories).
_KNOWN_VARS_PLUGINS = frozenset(['host_group_vars', 'ansible.builtin.host_group_vars'])
# The group layers of VARIABLE_PRECEDENCE this module combines as the variable manager does.
_KNOWN_PRECEDENCE = frozenset(['all_inventory', 'groups_inventory', 'all_plugins_inventory', 'all_plugins_play',
                               'groups_plugins_inventory', 'groups_plugins_play'])


def host_variables(task_vars: t.Mapping[str, t.Any], names: t.Sequence[str], wanted: t.Sequence[str]
                   ) -> t.Dict[str, t.Dict[str, t.Any]]:
    """{host: {variable: value}} of the `wanted` variables (those the host has) of each host named."""
    hostvars = task_vars.get('hostvars')
    manager = variable_manager_of(hostvars)
    inventory = inventory_of(hostvars)
    if manager is None or inventory is None or not _combinable():
        return dict((name, _through_hostvars(hostvars, name, wanted)) for name in names)
    reader = _InventoryReader(manager, inventory, task_vars)
    return dict((name, reader.read(name, wanted)) for name in names)


def _combinable() -> bool:
    """Whether this module combines variables as the variable manager would under this configuration: the default
    vars plugin only (another may give host-level variables), and group layers it knows."""
    plugins = loaded_vars_plugins()
    return (plugins is not None and set(plugins) <= _KNOWN_VARS_PLUGINS
            and all(entry in _KNOWN_PRECEDENCE for entry in C.VARIABLE_PRECEDENCE))


def _through_hostvars(hostvars: t.Any, name: str, wanted: t.Sequence[str]) -> t.Dict[str, t.Any]:
    variables = hostvars.get(name) if hasattr(hostvars, 'get') else None
    if variables is None:
        return {}
    found = {}
    for variable in wanted:
        value = variables.get(variable, _MISSING)
        if value is not _MISSING:
            found[variable] = value
    return found


class _InventoryReader:
    def __init__(self, manager: t.Any, inventory: t.Any, task_vars: t.Mapping[str, t.Any]) -> None:
        self.manager = manager
        self.inventory = inventory
        self.hostvars = task_vars.get('hostvars')
        self.loader = manager._loader  # pylint: disable=protected-access
        self.extra = manager.extra_vars
        # The directories hostvars reads vars plugins next to: the playbook's, none in ad-hoc commands.
        self.basedirs = [self.loader.get_basedir()] if manager.safe_basedir else []
        sources = [os.path.dirname(s) if os.path.isfile(s) else s for s in inventory._sources  # pylint: disable=protected-access
                   if isinstance(s, str)]
        # Host variables from files (host_vars/NAME.yml) would need a look per host: then every host goes the slow way.
        self.host_vars_files = any(os.path.isdir(os.path.join(d, 'host_vars')) for d in sources + self.basedirs)
        self.by_groups: t.Dict[t.Tuple[str, ...], t.Dict[str, t.Any]] = {}

    def read(self, name: str, wanted: t.Sequence[str]) -> t.Dict[str, t.Any]:
        host = self.inventory.get_host(name)
        if host is None or self.host_vars_files or host_facts(self.manager, name):
            return _through_hostvars(self.hostvars, name, wanted)
        groups = host.get_groups()
        key = tuple(group.name for group in groups)
        if key not in self.by_groups:
            self.by_groups[key] = self._group_vars(groups)
        found = {}
        own = host.vars
        for variable in wanted:
            value = self.extra.get(variable, own.get(variable, self.by_groups[key].get(variable, _MISSING)))
            if value is _MISSING:
                continue
            if not isinstance(value, (str, bool, int, float)) or isinstance(value, str) and ('{{' in value or '{%' in value):
                # A template, or a vaulted value: the variable manager gives what it is for this host.
                return _through_hostvars(self.hostvars, name, wanted)
            found[variable] = value
        return found

    def _group_vars(self, groups: t.List[t.Any]) -> t.Dict[str, t.Any]:
        """The variables of a set of groups, combined as the variable manager combines them under a host's own: the
        layers of VARIABLE_PRECEDENCE, in its order."""
        everyone = [self.inventory.groups['all']] if 'all' in self.inventory.groups else []
        others = sort_groups([group for group in groups if group.name != 'all'])
        sources = self.inventory._sources  # pylint: disable=protected-access

        def from_plugins(entities: t.List[t.Any], paths: t.Optional[t.List[str]]) -> t.Dict[str, t.Any]:
            if not entities:
                return {}
            if paths is None:
                return get_vars_from_inventory_sources(self.loader, sources, entities, 'task')
            combined: t.Dict[str, t.Any] = {}
            for path in paths:
                combined = combine_vars(combined, get_vars_from_path(self.loader, path, entities, 'task'))
            return combined

        layers = {
            'all_inventory': lambda: everyone[0].get_vars() if everyone else {},
            'groups_inventory': lambda: get_group_vars(others),
            'all_plugins_inventory': lambda: from_plugins(everyone, None),
            'all_plugins_play': lambda: from_plugins(everyone, self.basedirs),
            'groups_plugins_inventory': lambda: from_plugins(others, None),
            'groups_plugins_play': lambda: from_plugins(others, self.basedirs),
        }
        combined: t.Dict[str, t.Any] = {}
        for entry in C.VARIABLE_PRECEDENCE:
            combined = combine_vars(combined, layers[entry]())
        return combined
