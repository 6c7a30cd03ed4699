# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every operation by the name the fan-out takes, with the module that runs it on one host.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_coordinator import CoordinatorInstances, Deregistration
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_engine import EngineState
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import ClearInstance, LogLevels, ServerInfo, TenantQuota
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_request import (
    ClearRequest,
    Compress,
    Info,
    Pin,
    Prefetch,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Operation


class Entry:
    """One operation, declared once: the module that runs it on a host, its operation (argument spec and plan), the one
    to run instead when a request is targeted, whether it writes, whether the fan-out refuses it per endpoint because
    it acts on the whole fleet through the coordinator, and what it needs from a node beyond health, status and clear
    (per way it runs: a sentence and the capabilities, for the docs' generation table).

    Everything else is derived from OPERATIONS or checked against it (tests/unit/test_operations.py): the in-worker
    registry, the fan-out's choices and fleet-wide set, the action group, the action plugins and the docs' table."""

    def __init__(self, module: str, operation: t.Type[Operation], for_request: t.Optional[t.Type[Operation]] = None,
                 writes: bool = True, fleet_wide: bool = False, on_coordinator: bool = False,
                 needs: t.Sequence[t.Tuple[str, t.Tuple[str, ...]]] = ()) -> None:
        self.module = module
        self.operation = operation
        self.for_request = for_request
        self.writes = writes
        self.fleet_wide = fleet_wide
        # Its url is a coordinator's, not a node's: there is no endpoint to fan out to.
        self.on_coordinator = on_coordinator
        self.needs = tuple(needs)


OPERATIONS: t.Dict[str, Entry] = {
    'server_info': Entry('lmcache_server_info', ServerInfo, writes=False, needs=(
        ('health, version, L1 usage', ()),
        ('L2 adapters (from /status, or /config/adapters)', ()),
        ('quotas', ('quota',)),
        ('cache hits and hit ratios (hits)', ('metrics',)),
        ('exposure audit (audit)', ()),
        ('model, KV shape, place in the pod, freeze, hot cache, backends (engine)', ('engine_meta',)),
        ('periodic threads\' health (threads)', ('periodic_threads',)),
        ('running configuration (config)', ('config',)))),
    'info': Entry('lmcache_kvcache_info', Info, writes=False, fleet_wide=True, needs=(
        ('by token sequence', ('coordinator',)),
        ('by request id (design API)', ('kvcache_info',)))),
    'clear': Entry('lmcache_kvcache_clear', ClearInstance, ClearRequest, needs=(
        ('clear L1 (whole instance)', ()),
        ('clear L1 sparing objects in use (force=false)', ('force_honoured',)),
        ('targeted clear on the node (delete_via=node)', ('object_delete',)),
        ('targeted clear through the coordinator', ('coordinator',)))),
    'pin': Entry('lmcache_kvcache_pin', Pin, fleet_wide=True, needs=(
        ('by token sequence', ('coordinator',)),
        ('by request id (design API)', ('pin',)))),
    'compress': Entry('lmcache_kvcache_compress', Compress, needs=(
        ('by request id (design API)', ('compress',)),)),
    'prefetch': Entry('lmcache_kvcache_prefetch', Prefetch, needs=(
        ('prefetch from L2 into L1', ('prefetch',)),)),
    'quota': Entry('lmcache_quota', TenantQuota, needs=(
        ('node quotas', ('quota',)),)),
    'loglevel': Entry('lmcache_loglevel', LogLevels, needs=(
        ('log levels of named loggers, at runtime', ('loglevel',)),)),
    'engine': Entry('lmcache_engine', EngineState, needs=(
        ('freeze, hot cache, bypassed backends, runtime configuration', ('freeze',)),)),
    'coordinator_info': Entry('lmcache_coordinator_info', CoordinatorInstances, writes=False, on_coordinator=True, needs=(
        ('registered instances and their usage', ('coordinator',)),)),
    'coordinator_instance': Entry('lmcache_coordinator_instance', Deregistration, on_coordinator=True, needs=(
        ('deregister an instance', ('coordinator',)),)),
}
BY_MODULE: t.Dict[str, Entry] = dict((entry.module, entry) for entry in OPERATIONS.values())
# The operations that act on the whole fleet through the coordinator: one task, never one per endpoint.
FLEET_WIDE = frozenset(name for name, entry in OPERATIONS.items() if entry.fleet_wide)
# What the fan-out runs on each endpoint: every operation on a node.
PER_ENDPOINT = sorted(name for name, entry in OPERATIONS.items() if not entry.on_coordinator)


def operation_needs() -> t.List[t.Tuple[str, str, t.Tuple[str, ...]]]:
    """(module, what, capabilities) for every way every operation runs, in declaration order."""
    return [(entry.module, what, needs) for entry in OPERATIONS.values() for what, needs in entry.needs]
