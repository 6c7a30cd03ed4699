# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache.kvcache.fleet: an ansible-rulebook event source that watches LMCache nodes and coordinators.

The reading is the collection's own (plugins/plugin_utils/_watch.py): the same client, option checks, messages and
masking as the modules. This file only runs the polls, off the event loop, with a backoff when a coordinator fails.
"""

from __future__ import annotations

import asyncio
import os
import sys
import typing as t

DOCUMENTATION = r'''
---
short_description: Watch LMCache nodes and coordinators, and emit an event for each change
description:
  - Polls LMCache nodes (O(urls)) and the instances registered with coordinators (O(coordinator_url)) every
    O(interval) seconds, each read bounded by O(deadline), and puts one event on the queue per change, never one per
    poll. Each event is C(lmcache) with C(type), C(url) and C(instance_id) (where a coordinator names the node) and
    the fields of its type.
  - C(registered), C(gone) - an instance appeared in or left a coordinator's list (not on the first poll).
  - C(unhealthy) (with C(reachable) and the server's C(reason)), C(healthy) - the node's health changed; a node that is
    unhealthy on the first poll is reported.
  - C(l1_usage_high), C(l1_usage_normal) - L1 usage reached O(watermark) (default each node's own eviction
    watermark), or fell back under it; with C(usage_ratio), C(watermark), C(objects), C(bytes_used).
  - C(hit_ratio_low), C(hit_ratio_normal) - with O(hit_ratio_floor), the hit ratio over the interval since the last
    poll with at least O(hit_ratio_min_tokens) tokens looked up fell under the floor, or came back; C(restarted) when
    the counters went down.
  - C(version_changed) - a node's version or API generation changed; C(version_drift) - the healthy nodes run more than
    one version, listed with their URLs.
  - When a coordinator cannot be read the poll is skipped, a C(coordinator_unreachable) event says why (once), and the
    next poll waits twice as long, up to O(max_interval).
  - Events carry no server text Ansible could read as a template (ansible-rulebook hands them to playbooks as extra
    variables); ids and URLs are the checked ones, and texts have their braces replaced.
  - Needs ansible-core in the Python that runs ansible-rulebook (it needs it to run playbooks anyway).
options:
  urls:
    description: Node URLs to watch.
    type: list
    elements: str
  coordinator_url:
    description: Coordinator URLs whose registered instances are watched too.
    type: list
    elements: str
  interval:
    description: Seconds between polls.
    type: float
    default: 30
  max_interval:
    description: The longest wait between polls after coordinator failures.
    type: float
    default: 300
  watermark:
    description: L1 usage ratio (0 to 1) from which a node is reported; default, each node's eviction watermark.
    type: float
  hit_ratio_floor:
    description: Hit ratio (0 to 1) under which a node is reported; none by default (the counters are then not read).
    type: float
  hit_ratio_min_tokens:
    description: Tokens a node must have looked up since the last poll compared for its hit ratio to count.
    type: int
    default: 1
  concurrency:
    description: Nodes read at once.
    type: int
    default: 32
  api_key:
    description: API key for keyed servers (0.5.7 and later); default the E(LMCACHE_API_KEY) environment variable. Never in an event.
    type: str
  validate_certs:
    description: Whether to verify TLS certificates.
    type: bool
    default: true
  ca_path:
    description: CA certificate(s) to verify them with.
    type: str
  timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 10
  retries:
    description: Retries of a read.
    type: int
    default: 1
  deadline:
    description: Seconds one node's (or coordinator's) read may take in all; default O(interval).
    type: float
'''

EXAMPLES = r'''
- name: Clear an LMCache node whose L1 reaches its eviction watermark, at most once in 10 minutes per node
  hosts: localhost
  sources:
    - lmcache.kvcache.fleet:
        coordinator_url:
          - http://10.0.0.5:9300
        interval: 15
  rules:
    - name: Clear the node
      condition: event.lmcache.type == "l1_usage_high"
      throttle:
        once_within: 10 minutes
        group_by_attributes:
          - event.lmcache.url
      action:
        run_playbook:
          name: lmcache.kvcache.clear_node
'''


def _importable() -> None:
    """ansible-rulebook runs this file by path: make the collection it sits in importable as ansible_collections."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(os.path.join(here, *(['..'] * 7)))
    if os.path.isdir(os.path.join(root, 'ansible_collections')) and root not in sys.path:
        sys.path.append(root)


async def main(queue: t.Any, args: t.Dict[str, t.Any]) -> None:
    """Poll and put events on `queue` until cancelled."""
    _importable()
    from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import FleetState, FleetWatch, WatchError, event

    urls, coordinators = _list(args.get('urls')), _list(args.get('coordinator_url'))
    if not urls and not coordinators:
        raise ValueError('lmcache.kvcache.fleet: set urls, coordinator_url, or both')
    interval = float(args.get('interval', 30))
    max_interval = max(interval, float(args.get('max_interval', 300)))
    floor = args.get('hit_ratio_floor')
    state = FleetState(watermark=args.get('watermark'), hit_ratio_floor=floor,
                       hit_ratio_min_tokens=int(args.get('hit_ratio_min_tokens', 1)))
    # The key, where not given, comes from LMCACHE_API_KEY as for the modules (the same argument spec reads it).
    options = dict(args, hits=floor is not None, retries=args.get('retries', 1), deadline=args.get('deadline') or interval)
    watch = FleetWatch(options, urls, coordinators, state, int(args.get('concurrency', 32)))
    loop = asyncio.get_running_loop()
    wait, failing = interval, None
    while True:
        try:
            events = await loop.run_in_executor(None, watch.poll)
            wait, failing = interval, None
        except WatchError as exc:
            events = [] if failing == str(exc) else [event('coordinator_unreachable', reason=str(exc))]
            wait, failing = min(wait * 2, max_interval), str(exc)
        for item in events:
            await queue.put(item)
        await asyncio.sleep(wait)


def _list(value: t.Any) -> t.List[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else [str(v) for v in value]


if __name__ == '__main__':
    class MockQueue:
        async def put(self, item: t.Any) -> None:
            print(item)

    asyncio.run(main(MockQueue(), dict(urls=sys.argv[1:], interval=5)))
