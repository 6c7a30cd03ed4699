# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The docsite's table of what each module can do on each API generation is the code's route table, not a copy."""

from __future__ import annotations

from ansible_collections.lmcache.kvcache.plugins.module_utils import _generations, _registry
from ansible_collections.lmcache.kvcache.scripts import generation_table


def test_the_published_table_is_generated_from_the_route_table() -> None:
    with open(generation_table.TARGET) as handle:
        published = handle.read()
    assert published == generation_table.render(), 'run: python scripts/generation_table.py'


def test_every_generation_and_operation_is_in_the_table() -> None:
    table = generation_table.render()
    for generation in _generations.GENERATIONS:
        assert generation.releases in table
    for module, what, _needs in _registry.operation_needs():
        assert module in table and what in table
