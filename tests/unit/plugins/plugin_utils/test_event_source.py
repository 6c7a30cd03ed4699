# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lmcache.kvcache.fleet event source prepares its options as the modules do: one argument spec (the connection
options, networks and its own), documented as the collection's doc fragments write them, checked when it starts. A
wrong option stops it with a message that names the option, before any request."""

from __future__ import annotations

import asyncio
import os

import pytest
import yaml

from ansible_collections.lmcache.kvcache.plugins.doc_fragments.connection import ModuleDocFragment as Connection
from ansible_collections.lmcache.kvcache.plugins.doc_fragments.registry import ModuleDocFragment as Registry
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import SOURCE_ARGUMENT_SPEC, SOURCE_OPTIONS, SourceError, source_options

SOURCE = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'extensions', 'eda', 'plugins', 'event_source', 'fleet.py')


def documented() -> dict:
    with open(SOURCE) as handle:
        text = handle.read()
    return yaml.safe_load(text.split("DOCUMENTATION = r'''", 1)[1].split("'''", 1)[0])['options']


def test_the_shared_options_are_documented_as_the_doc_fragments_write_them() -> None:
    shared = dict(yaml.safe_load(Connection.PLUGINS)['options'], **yaml.safe_load(Registry.PLUGINS)['options'])
    options = documented()
    for name in set(SOURCE_ARGUMENT_SPEC) - set(SOURCE_OPTIONS):
        assert options[name] == shared[name], '%s: copy it from the doc fragment' % name


def test_every_option_in_the_spec_is_documented_with_its_type_and_default_and_no_other() -> None:
    options = documented()
    assert set(options) == set(SOURCE_ARGUMENT_SPEC)
    for name, spec in SOURCE_ARGUMENT_SPEC.items():
        assert options[name]['type'] == spec['type'], name
        assert options[name].get('default') == spec.get('default'), name


@pytest.mark.parametrize('args, problem', [
    (dict(urls=['http://127.0.0.1:1'], interval=0), 'interval must be greater than 0 and at most 86400, got 0.0'),
    (dict(urls=['http://127.0.0.1:1'], interval='abc'), "argument 'interval' is of type"),
    (dict(urls=['http://127.0.0.1:1'], concurrency=0), 'concurrency must be from 1 to 1024, got 0'),
    (dict(urls=['http://127.0.0.1:1'], watermark=1.5), 'watermark must be greater than 0 and at most 1, got 1.5'),
    (dict(urls=['http://127.0.0.1:1'], hit_ratio_floor=float('nan')), 'hit_ratio_floor must be greater than 0'),
    (dict(urls=['http://127.0.0.1:1'], retries=11), 'retries must be from 0 to 10, got 11'),
    (dict(urls=['http://127.0.0.1:1'], timeout=-1), 'timeout must be greater than 0'),
    (dict(urls=['ftp://127.0.0.1:1']), 'urls must be an http:// or https:// URL with a host'),
    (dict(coordinator_url=['http://u:p@127.0.0.1:1']), 'coordinator_url must not carry credentials'),
    (dict(coordinator_url=['http://127.0.0.1:1'], networks=['10.0.0.0/33']), 'networks entries are CIDR blocks'),
    (dict(), 'set urls, coordinator_url, or both'),
    (dict(urls=['http://127.0.0.1:1'], intervall=5), 'intervall'),
])
def test_a_wrong_option_stops_the_source_naming_it(args: dict, problem: str) -> None:
    with pytest.raises(SourceError) as caught:
        source_options(args)
    assert str(caught.value).startswith('lmcache.kvcache.fleet: ') and problem in str(caught.value)


def test_the_deadline_defaults_to_the_interval_and_the_key_to_the_environment(monkeypatch) -> None:
    monkeypatch.setenv('LMCACHE_API_KEY', 'env-key')
    options = source_options(dict(urls='http://127.0.0.1:1', interval='5'))
    assert options['deadline'] == 5.0 and options['interval'] == 5.0 and options['retries'] == 1
    assert options['urls'] == ['http://127.0.0.1:1'] and options['api_key'] == 'env-key'


def test_the_source_stops_at_start_on_a_wrong_option_and_puts_nothing_on_the_queue() -> None:
    import importlib.util
    spec = importlib.util.spec_from_file_location('lmcache_fleet_source', SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Queue:
        items: list = []

        async def put(self, item) -> None:
            self.items.append(item)

    with pytest.raises(SourceError, match='interval must be greater than 0'):
        asyncio.run(asyncio.wait_for(module.main(Queue(), dict(urls=['http://127.0.0.1:9'], interval=0)), 10))
    assert Queue.items == []
