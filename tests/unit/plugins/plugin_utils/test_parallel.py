# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fan-out's threads: every endpoint once, its outcome in its place, never more threads than asked, a failure
raised rather than lost, and the garbage collector as it was found."""

from __future__ import annotations

import gc
import threading
import time

import pytest

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._parallel import run_concurrently


def test_every_item_runs_once_and_its_outcome_is_in_its_place():
    seen = []
    outcomes = run_concurrently(lambda item: seen.append(item) or item * 2, list(range(1000)), 16)
    assert outcomes == [item * 2 for item in range(1000)]
    assert sorted(seen) == list(range(1000))


def test_no_more_threads_run_at_once_than_asked():
    lock = threading.Lock()
    running = [0, 0]

    def one(item):
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.002)
        with lock:
            running[0] -= 1
        return item

    assert run_concurrently(one, list(range(200)), 8) == list(range(200))
    assert 1 < running[1] <= 8


def test_a_failure_is_raised_and_stops_new_items():
    started = []

    def one(item):
        started.append(item)
        if item == 3:
            raise RuntimeError('item 3 failed')
        time.sleep(0.001)
        return item

    with pytest.raises(RuntimeError, match='item 3 failed'):
        run_concurrently(one, list(range(10000)), 4)
    assert len(started) < 10000


def test_nothing_to_run_runs_nothing():
    assert run_concurrently(lambda item: item, [], 64) == []


@pytest.mark.parametrize('enabled', [True, False])
def test_the_garbage_collector_is_left_as_it_was(enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        during = run_concurrently(lambda item: gc.isenabled(), [1, 2, 3], 2)
        assert during == [False, False, False]
        assert gc.isenabled() is enabled
        with pytest.raises(ValueError):
            run_concurrently(lambda item: int('x'), [1], 1)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
