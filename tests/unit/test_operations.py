# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""An operation is declared once (OPERATIONS in plugins/module_utils/_registry.py); every other place that names it
must agree, or this fails and says which place was forgotten (CONTRIBUTING.md, "Add an operation")."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import CAPABILITY_ROUTES
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import BY_MODULE, FLEET_WIDE, OPERATIONS, PER_ENDPOINT

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
# Modules that are no operation on one endpoint: the fan-out runs the others, the report writes files.
NOT_OPERATIONS = {'lmcache_fanout', 'lmcache_report'}


def read(*path: str) -> str:
    with open(os.path.join(ROOT, *path)) as handle:
        return handle.read()


def module_names() -> set:
    return {name[:-3] for name in os.listdir(os.path.join(ROOT, 'plugins', 'modules')) if name.endswith('.py')}


def test_every_module_is_a_declared_operation_and_every_operation_has_its_module() -> None:
    assert module_names() - NOT_OPERATIONS == set(BY_MODULE), 'add the operation to OPERATIONS, or its module file'


@pytest.mark.parametrize('name', sorted(OPERATIONS))
def test_each_module_runs_the_operation_declared_for_it(name: str) -> None:
    entry = OPERATIONS[name]
    source = read('plugins', 'modules', entry.module + '.py')
    call = 'run(%s%s)' % (entry.operation.__name__,
                          ', for_request=%s' % entry.for_request.__name__ if entry.for_request else '')
    assert call in source, '%s must call %s' % (entry.module, call)


@pytest.mark.parametrize('name', sorted(OPERATIONS))
def test_each_module_has_the_action_that_runs_it_in_the_worker(name: str) -> None:
    source = read('plugins', 'action', OPERATIONS[name].module + '.py')
    assert re.search(r'class ActionModule\(ModuleOnController\)', source), \
        'plugins/action/%s.py must be class ActionModule(ModuleOnController)' % OPERATIONS[name].module


def test_the_action_group_holds_every_operation_and_the_fan_out() -> None:
    runtime = yaml.safe_load(read('meta', 'runtime.yml'))
    assert sorted(runtime['action_groups']['lmcache']) == sorted(set(BY_MODULE) | {'lmcache_fanout'})


def test_the_fan_outs_documented_choices_are_the_declared_operations() -> None:
    source = read('plugins', 'modules', 'lmcache_fanout.py')
    documentation = yaml.safe_load(source.split("DOCUMENTATION = r'''", 1)[1].split("'''", 1)[0])
    assert documentation['options']['operation']['choices'] == PER_ENDPOINT
    assert set(OPERATIONS) - set(PER_ENDPOINT) == {'coordinator_info', 'coordinator_instance'}


def test_only_operations_on_a_request_are_fleet_wide() -> None:
    assert FLEET_WIDE == {'info', 'pin'}
    assert all(OPERATIONS[name].operation.target == 'required' for name in FLEET_WIDE)


@pytest.mark.parametrize('name', sorted(OPERATIONS))
def test_each_operation_says_what_it_needs_in_known_capabilities(name: str) -> None:
    entry = OPERATIONS[name]
    assert entry.needs, '%s: declare what it needs (at least one row of the generation table)' % name
    for _what, needs in entry.needs:
        assert set(needs) <= set(CAPABILITY_ROUTES) | {'coordinator', 'force_honoured'}


def test_the_readme_lists_every_module() -> None:
    readme = read('README.md')
    for module in module_names():
        assert '`lmcache.kvcache.%s`' % module in readme, 'README.md: add %s to the modules table' % module
