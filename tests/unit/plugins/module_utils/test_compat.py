# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The private ansible-core name module_utils read still means what it did (run on every supported ansible-core)."""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lmcache.kvcache.plugins.module_utils._compat import no_log_values
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import prepare_args
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import ClearInstance


def test_the_validators_no_log_values_are_read() -> None:
    spec = dict(api_key=dict(type='str', no_log=True), url=dict(type='str'))
    validated = ArgumentSpecValidator(spec).validate(dict(api_key='s3cr3t', url='http://127.0.0.1:8080'))
    assert no_log_values(validated) == {'s3cr3t'}


def test_prepare_args_masks_what_the_validator_and_the_options_hold(monkeypatch) -> None:
    monkeypatch.setenv('LMCACHE_API_KEY', ' env-s3cr3t\n')
    prepared = prepare_args(ClearInstance, dict(url='http://user:pa55word@127.0.0.1:8080'))
    assert {' env-s3cr3t\n', 'env-s3cr3t', 'pa55word'} <= prepared.hidden
    assert prepared.problems and 'url must not carry credentials' in prepared.problems[0]
