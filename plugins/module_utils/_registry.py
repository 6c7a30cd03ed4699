# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every operation by the name the fan-out takes, with the module that runs it on one host.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_node import ClearInstance, ServerInfo, TenantQuota
from ansible_collections.lmcache.kvcache.plugins.module_utils._ops_request import (
    ClearRequest,
    Compress,
    Info,
    Pin,
    Prefetch,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Operation


class Entry:
    def __init__(self, module: str, operation: t.Type[Operation], for_request: t.Optional[t.Type[Operation]] = None,
                 writes: bool = True) -> None:
        self.module = module
        self.operation = operation
        self.for_request = for_request
        self.writes = writes


OPERATIONS: t.Dict[str, Entry] = {
    'server_info': Entry('lmcache_server_info', ServerInfo, writes=False),
    'info': Entry('lmcache_kvcache_info', Info, writes=False),
    'clear': Entry('lmcache_kvcache_clear', ClearInstance, ClearRequest),
    'pin': Entry('lmcache_kvcache_pin', Pin),
    'compress': Entry('lmcache_kvcache_compress', Compress),
    'prefetch': Entry('lmcache_kvcache_prefetch', Prefetch),
    'quota': Entry('lmcache_quota', TenantQuota),
}
