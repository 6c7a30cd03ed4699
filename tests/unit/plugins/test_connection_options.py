# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The connection options are declared once (CONNECTION_ARGUMENT_SPEC): the modules' doc fragment and the plugins'
(the coordinator inventory) document the same types and defaults, and the inventory reads every one of them."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.lmcache.kvcache.plugins.doc_fragments.connection import ModuleDocFragment
from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import CONNECTION_ARGUMENT_SPEC

MODULES = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
PLUGINS = yaml.safe_load(ModuleDocFragment.PLUGINS)['options']


@pytest.mark.parametrize('name', sorted(CONNECTION_ARGUMENT_SPEC))
def test_the_modules_fragment_documents_each_option_as_declared(name: str) -> None:
    spec = CONNECTION_ARGUMENT_SPEC[name]
    assert MODULES[name]['type'] == spec['type']
    assert MODULES[name].get('default') == spec.get('default')


# url and url_vouched are a module's: a plugin's URLs are its own options (coordinator_url, a lookup's terms).
PLUGIN_OPTIONS = set(CONNECTION_ARGUMENT_SPEC) - {'url', 'url_vouched'}


@pytest.mark.parametrize('name', sorted(PLUGIN_OPTIONS))
def test_the_plugins_fragment_documents_each_option_as_declared(name: str) -> None:
    spec = CONNECTION_ARGUMENT_SPEC[name]
    assert PLUGINS[name]['type'] == spec['type']
    assert PLUGINS[name].get('default') == spec.get('default')


def test_the_plugins_fragment_has_no_option_the_spec_lacks() -> None:
    assert set(PLUGINS) == PLUGIN_OPTIONS
