# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Each lookup documents every option of the module it runs, with its type and default: ansible-core refuses to give a
plugin an option it does not document, so a module option the lookup lacks fails every call of the lookup ("No config
definition exists for ...")."""

from __future__ import annotations

import importlib

import pytest
import yaml

from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import BY_MODULE
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._local import option_names


def documented_options(name: str) -> dict:
    """The lookup's options as ansible-core builds them: its own, then those of the doc fragments it extends."""
    doc = yaml.safe_load(importlib.import_module('ansible_collections.lmcache.kvcache.plugins.lookup.%s' % name).DOCUMENTATION)
    options = dict(doc['options'])
    for fragment in doc.get('extends_documentation_fragment', []):
        module, _dot, variant = fragment.replace('lmcache.kvcache.', '', 1).partition('.')
        text = getattr(importlib.import_module('ansible_collections.lmcache.kvcache.plugins.doc_fragments.%s' % module)
                       .ModuleDocFragment, (variant or 'DOCUMENTATION').upper())
        options.update(yaml.safe_load(text)['options'])
    return options


@pytest.mark.parametrize('name', ['server_info', 'coordinator_instances'])
def test_the_lookup_documents_every_option_of_its_module(name):
    module = importlib.import_module('ansible_collections.lmcache.kvcache.plugins.lookup.%s' % name).LookupModule.module
    entry = BY_MODULE[module]
    spec = dict(CONNECTION_ARGUMENT_SPEC, **entry.operation.argument_spec)
    options = documented_options(name)
    for option in option_names(entry):
        assert option in options, '%s: the lookup does not document %s' % (name, option)
        assert options[option].get('type', 'str') == spec[option].get('type', 'str'), option
        assert options[option].get('default') == spec[option].get('default'), option
