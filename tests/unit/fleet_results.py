# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-host results as the collection's modules return them, for the tests of what the controller makes of them."""

from __future__ import annotations

import typing as t


def server_info(usage: float = 0.5, **fields: t.Any) -> t.Dict[str, t.Any]:
    """A server_info result of a healthy 0.5.6 node with 1 GiB of L1 at the given usage."""
    result = dict(changed=False, url='http://127.0.0.1:8080', status=200, healthy=True, health_reason=None,
                  version='0.5.6-g3e11e108', api_generation='G3', eviction_watermark=0.8,
                  above_eviction_watermark=usage >= 0.8, l2_adapters=[{'type': 'LocalDiskL2Adapter'}], quotas=[],
                  active_sessions=1,
                  l1=dict(objects=10, bytes_used=int(usage * 2 ** 30), bytes_total=2 ** 30, usage_ratio=usage))
    result.update(fields)
    return result
