# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fan-out reads its few variables of each host from the inventory, not through hostvars: it must find what
hostvars finds, whatever sets them (a host, its groups by depth, group_vars files, extra variables, set_fact, a
template), on every supported ansible-core."""

from __future__ import annotations

import json

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.inventory.manager import InventoryManager
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager

from ansible_collections.lmcache.kvcache.plugins.plugin_utils import _hostvars
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._compat import loaded_vars_plugins
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._hostvars import host_variables

WANTED = ('lmcache_url', 'lmcache_api_key', 'lmcache_url_vouched')


def inventory(tmp_path, group_vars=None, host_vars=None, playbook_group_vars=None):
    (tmp_path / 'inventory').mkdir()
    (tmp_path / 'inventory' / 'hosts.json').write_text(json.dumps({'all': {'children': {
        'lmcache': {'vars': {'lmcache_api_key': 'group-key', 'lmcache_url_vouched': False}, 'children': {
            'rack1': {'vars': {'lmcache_api_key': 'rack-key'}, 'hosts': {
                'a': {'lmcache_url': 'http://127.0.0.1:1'},
                'b': {'lmcache_url': 'http://127.0.0.1:2', 'lmcache_api_key': 'host-key'}}},
            'rack2': {'hosts': {'c': {'lmcache_url': 'http://{{ inventory_hostname }}.example:8080'},
                                'd': {'lmcache_url': 'http://127.0.0.1:4'}}}}}}}}))
    for kind, files in (('group_vars', group_vars), ('host_vars', host_vars)):
        if files:
            (tmp_path / 'inventory' / kind).mkdir()
            for name, variables in files.items():
                (tmp_path / 'inventory' / kind / ('%s.yml' % name)).write_text(json.dumps(variables))
    if playbook_group_vars:
        (tmp_path / 'playbooks' / 'group_vars').mkdir(parents=True)
        for name, variables in playbook_group_vars.items():
            (tmp_path / 'playbooks' / 'group_vars' / ('%s.yml' % name)).write_text(json.dumps(variables))
    loader = DataLoader()
    loader.set_basedir(str(tmp_path / 'playbooks'))
    manager = VariableManager(loader, InventoryManager(loader, [str(tmp_path / 'inventory' / 'hosts.json')]))
    return manager, HostVars(manager._inventory, manager, loader)


def expected(hostvars, names):
    found = {}
    for name in names:
        variables = hostvars[name]
        found[name] = dict((v, variables[v]) for v in WANTED if v in variables)
    return found


class CountingHostVars:
    """hostvars that counts the hosts read through it."""

    def __init__(self, hostvars):
        self.hostvars = hostvars
        self._inventory = hostvars._inventory
        self._variable_manager = hostvars._variable_manager
        self.read = []

    def get(self, name, default=None):
        self.read.append(name)
        return self.hostvars.get(name, default)


@pytest.mark.parametrize('group_vars, host_vars, extra, facts, playbook_group_vars', [
    ({}, {}, {}, {}, {}),
    ({'rack2': {'lmcache_api_key': 'file-key'}}, {}, {}, {}, {}),
    # group_vars/all.yml comes after the groups' inventory variables in the default VARIABLE_PRECEDENCE.
    ({'all': {'lmcache_api_key': 'all-file-key'}}, {}, {}, {}, {}),
    ({'all': {'lmcache_api_key': 'all-file-key'}}, {}, {}, {}, {'rack1': {'lmcache_api_key': 'playbook-key'}}),
    ({}, {'d': {'lmcache_api_key': 'host-file-key'}}, {}, {}, {}),
    ({}, {}, {'lmcache_api_key': 'extra-key'}, {}, {}),
    ({}, {}, {}, {'d': {'lmcache_url': 'http://127.0.0.1:9'}}, {}),
])
def test_the_inventory_read_finds_what_hostvars_finds(tmp_path, group_vars, host_vars, extra, facts, playbook_group_vars):
    manager, hostvars = inventory(tmp_path, group_vars, host_vars, playbook_group_vars)
    manager._extra_vars = extra
    for name, variables in facts.items():
        manager.set_nonpersistent_facts(name, variables)
    names = ['a', 'b', 'c', 'd']
    assert host_variables({'hostvars': hostvars}, names, WANTED) == expected(hostvars, names)


def test_a_task_vars_without_a_variable_manager_goes_through_hostvars():
    hostvars = {'a': {'lmcache_url': 'http://127.0.0.1:1', 'other': 1}}
    assert host_variables({'hostvars': hostvars}, ['a'], WANTED) == {'a': {'lmcache_url': 'http://127.0.0.1:1'}}


def test_plain_hosts_are_read_from_the_inventory_and_a_templated_one_through_hostvars(tmp_path):
    manager, hostvars = inventory(tmp_path, {'all': {'lmcache_api_key': 'all-file-key'}})
    expected(hostvars, ['a'])  # the variable manager has run its vars plugins once, as in a play
    counting = CountingHostVars(hostvars)
    host_variables({'hostvars': counting}, ['a', 'b', 'c', 'd'], WANTED)
    assert counting.read == ['c']


def test_ansible_core_runs_the_default_vars_plugin_and_this_module_sees_it(tmp_path):
    manager, hostvars = inventory(tmp_path)
    expected(hostvars, ['a'])
    assert set(loaded_vars_plugins()) & {'host_group_vars', 'ansible.builtin.host_group_vars'}


def test_another_vars_plugin_sends_every_host_through_hostvars(tmp_path, monkeypatch):
    manager, hostvars = inventory(tmp_path)
    expected(hostvars, ['a'])
    monkeypatch.setattr(_hostvars, 'loaded_vars_plugins', lambda: ['host_group_vars', 'community.general.cmdb'])
    counting = CountingHostVars(hostvars)
    host_variables({'hostvars': counting}, ['a', 'b'], WANTED)
    assert counting.read == ['a', 'b']
