# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running one function over many endpoints on a few threads, on the controller (the fan-out, the event source).

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import collections
import gc
import threading
import typing as t

Item = t.TypeVar('Item')
Outcome = t.TypeVar('Outcome')


def run_concurrently(run_one: t.Callable[[Item], Outcome], items: t.Sequence[Item], threads: int) -> t.List[Outcome]:
    """run_one(item) for every item, on at most `threads` threads; the outcomes in the order of `items`. An exception
    run_one raises stops the threads taking new items and is raised here once they are done.

    Not a ThreadPoolExecutor: it takes two locks per item (its queue and its idle-thread semaphore), which 64 threads
    taking an item every few hundred microseconds queue on; here a thread takes the next index from a deque (whose pops
    are atomic) and writes its own slot of the list.
    """
    outcomes: t.List[t.Any] = [None] * len(items)
    waiting = collections.deque(range(len(items)))
    errors: t.List[BaseException] = []

    def work() -> None:
        while not errors:
            try:
                index = waiting.popleft()
            except IndexError:
                return
            try:
                outcomes[index] = run_one(items[index])
            except BaseException as exc:
                errors.append(exc)

    workers = [threading.Thread(target=work, name='lmcache-fanout-%d' % number, daemon=True)
               for number in range(max(1, min(threads, len(items))))]
    # The cyclic garbage collector is paused while they run: they make short-lived objects that form next to no
    # cycles, and each collection it starts for them walks the controller's heap, a 10,000-host inventory among it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        if collecting:
            gc.enable()
    if errors:
        raise errors[0]
    return outcomes
