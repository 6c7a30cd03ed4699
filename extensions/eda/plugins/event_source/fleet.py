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
    the fields of its type; a node's events also say whether its URL is vouched for (C(vouched)), which the
    collection's playbooks pass on as C(url_vouched).
  - C(registered), C(gone) - an instance appeared in or left a coordinator's list (not on the first poll).
  - C(registration_outside) (with C(coordinator_url)) - a coordinator lists an instance at an address O(networks) does
    not vouch for; it is not read. Once per registration. The rulebook C(deregister_outside) removes it.
  - C(unhealthy) (with C(reachable) and the server's C(reason)), C(healthy) - the node's health changed; a node that is
    unhealthy on the first poll is reported.
  - C(l1_usage_high), C(l1_usage_normal) - L1 usage reached O(watermark) (default each node's own eviction
    watermark), or fell back under it; with C(usage_ratio), C(watermark), C(objects), C(bytes_used).
  - C(hit_ratio_low), C(hit_ratio_normal) - with O(hit_ratio_floor), the hit ratio over the interval since the last
    poll with at least O(hit_ratio_min_tokens) tokens looked up fell under the floor, or came back; C(restarted) when
    the counters went down.
  - C(version_changed) - a node's version or API generation changed; C(version_drift) - the healthy nodes run more than
    one version, listed with their URLs.
  - C(threads_unhealthy) (with C(threads), their names), C(threads_healthy) - a node's periodic threads (its eviction
    loop, its L2 store thread; LMCache 0.5.0 and later, and engines) stopped being active, or are all active again.
    The node is reported C(unhealthy) too.
  - C(config_drift) (with C(fields) - each field, the fleet's or the declared C(value), and the C(differing) nodes'
    URLs and values) - with O(config_drift) or O(expected_config), when the set of fields that differ changes.
  - When a coordinator cannot be read the poll is skipped, a C(coordinator_unreachable) event says why (once), and the
    next poll waits twice as long, up to O(max_interval).
  - Events carry no server text Ansible could read as a template (ansible-rulebook hands them to playbooks as extra
    variables); ids and URLs are the checked ones, and texts have their braces replaced.
  - Needs ansible-core in the Python that runs ansible-rulebook (it needs it to run playbooks anyway).
  - The options are checked when the source starts, as a module's are; a wrong one stops the source with a message
    naming it (it is never reported as a node's health).
options:
  urls:
    description: Node URLs to watch. They are the operator's own, so the API key goes to them.
    type: list
    elements: str
  coordinator_url:
    description:
      - Coordinator URLs whose registered instances are watched too. A registered address gets the API key only where
        O(networks) vouches for it; with O(networks) set, a registration outside it is not read at all, and a
        C(registration_outside) event names it.
      - Each poll reads the coordinators at once (up to O(concurrency)), then their instances.
    type: list
    elements: str
  interval:
    description: Seconds between polls. More than 0 and at most 86400.
    type: float
    default: 30
  max_interval:
    description: The longest wait between polls after coordinator failures. More than 0 and at most 86400.
    type: float
    default: 300
  watermark:
    description: L1 usage ratio (more than 0, at most 1) from which a node is reported; default, each node's eviction watermark.
    type: float
  hit_ratio_floor:
    description: Hit ratio (more than 0, at most 1) under which a node is reported; none by default (the counters are then not read).
    type: float
  hit_ratio_min_tokens:
    description: Tokens a node must have looked up since the last poll compared for its hit ratio to count. 1 or more.
    type: int
    default: 1
  concurrency:
    description: Nodes, and coordinators, read at once, from 1 to 1024.
    type: int
    default: 32
  retries:
    description: Retries of a read, from 0 to 10 (the next poll comes soon anyway).
    type: int
    default: 1
  deadline:
    description: Seconds one node's (or coordinator's) read may take in all; default O(interval).
    type: float
  config_drift:
    description:
      - Read every node's running configuration too, and emit C(config_drift) when the fields that differ across the
        healthy nodes change (see the fleet report's drift for what is compared).
    type: bool
    default: false
    version_added: 0.2.0
  expected_config:
    description:
      - The configuration values every node should run with, in the nodes' configuration's shape; a node that differs
        is in C(config_drift). Setting it reads the configuration too.
    type: dict
    version_added: 0.2.0
  # The options below are the modules' connection options and the registry's networks, as the collection's doc
  # fragments (connection.plugins, registry.plugins) write them: tests/unit/test_event_source.py holds them equal.
  api_key:
    description:
      - 'API key, sent as C(Authorization: Bearer <key>). Never shown in output or logs, neither as given nor as sent.'
      - Surrounding whitespace is removed; a key with spaces inside, control or non-ASCII characters is refused.
    type: str
    env:
      - name: LMCACHE_API_KEY
  validate_certs:
    description: Whether to verify the servers' TLS certificates for V(https://) URLs.
    type: bool
    default: true
  ca_path:
    description: CA certificate(s) to verify the servers' TLS certificates with, instead of the system's.
    type: path
  client_cert:
    description: Client certificate (PEM) for servers that require mutual TLS. May hold the private key too.
    type: path
  client_key:
    description: Private key (PEM) of O(client_cert), if that file does not hold it.
    type: path
  timeout:
    description: Seconds to wait for a connection, and for each read of an answer. More than 0 and at most 3600.
    type: float
    default: 10
  networks:
    description:
      - The addresses of the fleet's nodes, which the coordinators' registries may send the API key to. Anything that
        reaches a coordinator can register an instance, at any address, so an address read from its registry is not
        vouched for by being there.
      - A list of CIDR blocks (V(10.0.0.0/8), V(fd00::/8)), single addresses, host names and name patterns. In a
        pattern a leading C(*.) stands for one or more labels (V(*.gpu.example.com)) and any other C(*) for part of
        one label (V(gpu-*.example.com)). Registered host names are compared as registered, never resolved.
      - When set, a registration outside it is left out, and said so once, naming the coordinator, the instance and the
        address; the key goes to the ones inside. When not set, every registration is used but none is sent the key
        (see the collection's security guide).
    type: list
    elements: str
    version_added: 0.2.0
    env:
      - name: LMCACHE_NETWORKS
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
    """ansible-rulebook runs this file by path: make the collection it sits in importable, from the directory that
    holds its ansible_collections folder (a collections path)."""
    parts = os.path.abspath(__file__).split(os.sep)
    if 'ansible_collections' in parts:
        root = os.sep.join(parts[:len(parts) - 1 - parts[::-1].index('ansible_collections')]) or os.sep
        if root not in sys.path:
            sys.path.append(root)


async def main(queue: t.Any, args: t.Dict[str, t.Any]) -> None:
    """Check the options, then poll and put events on `queue` until cancelled."""
    _importable()
    from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import (
        FleetState, FleetWatch, WatchError, event, source_options)

    options = source_options(args)
    interval = options['interval']
    max_interval = max(interval, options['max_interval'])
    floor = options['hit_ratio_floor']
    state = FleetState(watermark=options['watermark'], hit_ratio_floor=floor,
                       hit_ratio_min_tokens=options['hit_ratio_min_tokens'], expected_config=options['expected_config'])
    # The counters and the configuration are read only where an event needs them.
    read = dict(hits=floor is not None, config=options['config_drift'] or bool(options['expected_config']))
    watch = FleetWatch(dict(options, **read), options['urls'] or [], options['coordinator_url'] or [],
                       state, options['concurrency'])
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


if __name__ == '__main__':
    class MockQueue:
        async def put(self, item: t.Any) -> None:
            print(item)

    asyncio.run(main(MockQueue(), dict(urls=sys.argv[1:], interval=5)))
