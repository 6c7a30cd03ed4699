# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The chunk model the per-request modules report, its summaries, and the pin arithmetic of prefix-only pins.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t


class Chunk:
    """One chunk of a request's KV cache as the modules report it."""

    def __init__(self, index: int, start: int, end: int, locations: t.Optional[t.List[str]] = None,
                 placements: t.Optional[t.List[t.Dict[str, t.Any]]] = None, pin_count: int = 0,
                 compression: t.Optional[str] = None, size_bytes: t.Optional[int] = None,
                 keys: t.Optional[t.List[t.Dict[str, t.Any]]] = None) -> None:
        self.index = index
        self.start = start
        self.end = end
        # Tiers holding it ('L1', 'L2'), and where the coordinator knows it, which instance holds which.
        self.locations = locations or []
        self.placements = placements or []
        self.pin_count = pin_count
        self.compression = compression
        self.size_bytes = size_bytes
        # The coordinator's object keys of the chunk, one per rank (for node-direct deletes); not reported.
        self.keys = keys or []

    @property
    def cached(self) -> bool:
        return bool(self.locations)

    @property
    def pinned(self) -> bool:
        return self.pin_count > 0

    def copy(self, **changes: t.Any) -> 'Chunk':
        fields = dict(index=self.index, start=self.start, end=self.end, locations=list(self.locations),
                      placements=[dict(p) for p in self.placements], pin_count=self.pin_count,
                      compression=self.compression, size_bytes=self.size_bytes, keys=self.keys)
        fields.update(changes)
        return Chunk(**fields)

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(index=self.index, start=self.start, end=self.end, locations=self.locations,
                    placements=self.placements, pinned=self.pinned, pin_count=self.pin_count,
                    compression=self.compression, size_bytes=self.size_bytes)


def chunk_summary(chunks: t.Sequence[Chunk]) -> t.Dict[str, t.Any]:
    """Totals every per-request module reports."""
    cached = [c for c in chunks if c.cached]
    return dict(
        total_chunks=len(chunks),
        cached_chunks=len(cached),
        cached_tokens=sum(c.end - c.start for c in cached),
        pinned_chunks=sum(1 for c in chunks if c.pinned),
    )


def chunk_ranges(chunks: t.Sequence[Chunk]) -> t.List[t.Dict[str, t.Any]]:
    """Consecutive chunks in the same state, as one range each: a 1,000,000-token request in a few lines."""
    ranges: t.List[t.Dict[str, t.Any]] = []
    for chunk in chunks:
        state = dict(locations=chunk.locations, placements=chunk.placements, pinned=chunk.pinned,
                     pin_count=chunk.pin_count, compression=chunk.compression)
        if ranges and ranges[-1]['last'] == chunk.index - 1 and all(ranges[-1][k] == v for k, v in state.items()):
            ranges[-1].update(last=chunk.index, end=chunk.end)
        else:
            ranges.append(dict(first=chunk.index, last=chunk.index, start=chunk.start, end=chunk.end, **state))
    return ranges


def prefix_operations(current: t.Sequence[int], desired: t.Sequence[int]) -> t.List[t.Tuple[str, int]]:
    """How to move per-chunk pin counts from `current` to `desired` with prefix-only, reference-counted pins.

    The coordinator pins and unpins whole prefixes: ('pin', k) adds one to chunks 0 .. k-1, ('unpin', k) takes one
    off them (never below zero). Any change d[i] = desired[i] - current[i] is a sum of such prefix steps with
    multiplicity d[k-1] - d[k] at k; doing every pin before any unpin keeps each count at or above both its start and
    its goal until the unpins bring it down, so the floor at zero never distorts the arithmetic.
    """
    if len(current) != len(desired):
        raise ValueError('current and desired must have the same length')
    delta = [d - c for c, d in zip(current, desired)] + [0]
    pins: t.List[t.Tuple[str, int]] = []
    unpins: t.List[t.Tuple[str, int]] = []
    for k in range(len(current), 0, -1):
        step = delta[k - 1] - delta[k]
        if step > 0:
            pins.extend([('pin', k)] * step)
        elif step < 0:
            unpins.extend([('unpin', k)] * -step)
    return pins + unpins
