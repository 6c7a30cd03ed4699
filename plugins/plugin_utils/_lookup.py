# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Lookups that run an operation of the collection once per term (a URL), the terms at once: the same option checks,
the same messages, the same masking of secrets as the module, through the one prepare path (plugin_utils/_local.py).

Private to this collection.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import BY_MODULE
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._local import option_names, run_on
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._parallel import run_concurrently

# What a lookup returns of a result: not the module's bookkeeping.
NOT_RETURNED = ('invocation', 'changed', 'warnings')
# How many terms are read at once.
TERMS_AT_ONCE = 16


class OperationLookup(LookupBase):
    """Subclasses name the module whose operation they run, and pick what of its result each term gives."""

    module = ''

    def run(self, terms: t.List[t.Any], variables: t.Optional[t.Dict[str, t.Any]] = None, **kwargs: t.Any) -> t.List[t.Any]:
        self.set_options(var_options=variables, direct=kwargs)
        entry = BY_MODULE[self.module]
        given = dict((name, self.get_option(name)) for name in option_names(entry))
        for term in terms:
            if not isinstance(term, str):
                raise AnsibleLookupError('%s: each term is a URL, got %s' % (self._load_name, type(term).__name__))
        # The terms are read at once (they only read); warnings, and the first failure, in the order of the terms.
        values: t.List[t.Any] = []
        for result in run_concurrently(lambda term: run_on(entry, term, given), terms, TERMS_AT_ONCE):
            for warning in result.get('warnings', []):
                self._display.warning(warning)
            if result.get('failed'):
                raise AnsibleLookupError(result['msg'])
            values += self.returned(dict((k, v) for k, v in result.items() if k not in NOT_RETURNED))
        return values

    def returned(self, result: t.Dict[str, t.Any]) -> t.List[t.Any]:
        """What one term's result gives the lookup's list."""
        return [result]
