# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the lmcache.kvcache.fleet event source watches: each poll reads the coordinators' registrations and every
node's server info (through the one prepare path, plugin_utils/_local.py), and FleetState turns the reads into events,
one per change, never one per poll.

Events are data for ansible-rulebook, which hands them to playbooks as extra variables, and Ansible reads a string in
extra variables as a template. So no text a node sent goes into an event as it came: ids and URLs are the checked ones
(_untrusted), versions are kept only when they look like versions, and a server's own words (a health reason, an error
message) pass through inert(), which breaks every template delimiter.

Private to this collection.
"""

from __future__ import annotations

import concurrent.futures
import re
import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._metrics import interval
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import BY_MODULE
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._local import run_on

VERSION = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$')
TEXT_MAX_CHARS = 300


def inert(text: t.Any) -> t.Optional[str]:
    """A server's text as an event may carry it: one line, bounded, and with no '{' or '}' (so no '{{', '{%' or '{#'),
    which Ansible would read as a template in the extra variables ansible-rulebook hands a playbook."""
    if text is None:
        return None
    return re.sub(r'[\x00-\x1f\x7f]+', ' ', str(text)).replace('{', '(').replace('}', ')')[:TEXT_MAX_CHARS]


def plain_version(value: t.Any) -> t.Optional[str]:
    return value if isinstance(value, str) and VERSION.match(value) else None


class Node:
    """What the watch remembers of one node between polls."""

    def __init__(self) -> None:
        self.healthy: t.Optional[bool] = None
        self.above_watermark = False
        self.hit_ratio_low = False
        self.version: t.Optional[str] = None
        self.generation: t.Optional[str] = None
        self.hits: t.Optional[t.Dict[str, t.Any]] = None


class FleetState:
    """Turns successive reads of a fleet into events: one per change of a node's registration, health, L1 usage against
    the watermark, hit ratio against the floor, version or generation, and of the fleet's set of versions."""

    def __init__(self, watermark: t.Optional[float] = None, hit_ratio_floor: t.Optional[float] = None,
                 hit_ratio_min_tokens: int = 1) -> None:
        # None: each node's own eviction watermark.
        self.watermark = watermark
        self.hit_ratio_floor = hit_ratio_floor
        self.hit_ratio_min_tokens = hit_ratio_min_tokens
        self.nodes: t.Dict[str, Node] = {}
        self.registered: t.Optional[t.Dict[str, str]] = None
        self.versions: t.List[t.Dict[str, t.Any]] = []

    def registrations(self, instances: t.Mapping[str, str]) -> t.List[t.Dict[str, t.Any]]:
        """Events for instances (id -> node URL) registered or gone since the last read; none on the first read."""
        events: t.List[t.Dict[str, t.Any]] = []
        if self.registered is not None:
            events += [event('registered', url=instances[i], instance_id=i) for i in sorted(set(instances) - set(self.registered))]
            events += [event('gone', url=self.registered[i], instance_id=i) for i in sorted(set(self.registered) - set(instances))]
        self.registered = dict(instances)
        return events

    def reads(self, results: t.Mapping[str, t.Mapping[str, t.Any]], names: t.Mapping[str, str]) -> t.List[t.Dict[str, t.Any]]:
        """Events from one poll's server info results by node URL (`names`: instance id by URL, where known)."""
        events: t.List[t.Dict[str, t.Any]] = []
        for url in sorted(results):
            node = self.nodes.setdefault(url, Node())
            events += [dict(e, lmcache=dict(e['lmcache'], url=url, instance_id=names.get(url)))
                       for e in self._node_events(node, results[url])]
        for url in set(self.nodes) - set(results):
            del self.nodes[url]
        return events + self._drift(results)

    def _node_events(self, node: Node, result: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
        read = 'healthy' in result and not result.get('failed')
        healthy = bool(read and result.get('healthy'))
        events = []
        if healthy != node.healthy and (node.healthy is not None or not healthy):
            events.append(event('healthy') if healthy else event(
                'unhealthy', reachable=read,
                reason=inert(result.get('health_reason') if read else result.get('msg')) or 'no answer'))
        node.healthy = healthy
        if not healthy:
            return events
        events += self._usage_events(node, result)
        events += self._hit_events(node, result.get('hits'))
        version, generation = plain_version(result.get('version')), plain_version(result.get('api_generation'))
        if node.version is not None and (version, generation) != (node.version, node.generation):
            events.append(event('version_changed', version=version, api_generation=generation,
                                previous_version=node.version, previous_api_generation=node.generation))
        node.version, node.generation = version, generation
        return events

    def _usage_events(self, node: Node, result: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
        l1 = result.get('l1') if isinstance(result.get('l1'), dict) else {}
        ratio = l1.get('usage_ratio')
        watermark = self.watermark if self.watermark is not None else result.get('eviction_watermark')
        if not isinstance(ratio, (int, float)) or not isinstance(watermark, (int, float)):
            return []
        above = ratio >= watermark
        changed, node.above_watermark = above != node.above_watermark, above
        if not changed:
            return []
        return [event('l1_usage_high' if above else 'l1_usage_normal', usage_ratio=ratio, watermark=watermark,
                      objects=l1.get('objects'), bytes_used=l1.get('bytes_used'))]

    def _hit_events(self, node: Node, hits: t.Any) -> t.List[t.Dict[str, t.Any]]:
        """A hit ratio under the floor over the interval since the last poll that saw enough lookups."""
        if self.hit_ratio_floor is None or not isinstance(hits, dict):
            return []
        if node.hits is None:
            node.hits = dict(hits)
            return []
        since = interval(hits, node.hits)
        if since['restarted']:
            node.hits = dict(hits)
            return [event('restarted', detail='hit counters went down: the server restarted')]
        if not isinstance(since['requested_tokens'], (int, float)) or since['requested_tokens'] < self.hit_ratio_min_tokens:
            return []
        node.hits = dict(hits)
        low = since['hit_ratio'] is not None and since['hit_ratio'] < self.hit_ratio_floor
        changed, node.hit_ratio_low = low != node.hit_ratio_low, low
        if not changed:
            return []
        return [event('hit_ratio_low' if low else 'hit_ratio_normal', hit_ratio=since['hit_ratio'],
                      floor=self.hit_ratio_floor, requested_tokens=since['requested_tokens'], hit_tokens=since['hit_tokens'])]

    def _drift(self, results: t.Mapping[str, t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
        """One event when the set of versions the healthy nodes run changes and holds more than one."""
        by_version: t.Dict[t.Tuple[t.Optional[str], t.Optional[str]], t.List[str]] = {}
        for url, node in self.nodes.items():
            if node.healthy:
                by_version.setdefault((node.version, node.generation), []).append(url)
        versions = [dict(version=v, api_generation=g, urls=sorted(urls)) for (v, g), urls in sorted(by_version.items(), key=str)]
        kinds = [(v['version'], v['api_generation']) for v in versions]
        drifted = len(versions) > 1 and kinds != [(v['version'], v['api_generation']) for v in self.versions]
        self.versions = versions
        return [event('version_drift', versions=versions)] if drifted else []


def event(kind: str, **fields: t.Any) -> t.Dict[str, t.Any]:
    return dict(lmcache=dict(fields, type=kind))


class FleetWatch:
    """One poll of the fleet: the coordinators' instances and every node's server info, read in parallel, each bounded
    by the connection options' deadline; the events of what changed."""

    def __init__(self, args: t.Mapping[str, t.Any], urls: t.Sequence[str], coordinators: t.Sequence[str],
                 state: FleetState, concurrency: int = 32) -> None:
        self.args = dict(args)
        self.urls = list(urls)
        self.coordinators = list(coordinators)
        self.state = state
        self.concurrency = concurrency

    def poll(self) -> t.List[t.Dict[str, t.Any]]:
        events: t.List[t.Dict[str, t.Any]] = []
        names: t.Dict[str, str] = {}
        if self.coordinators:
            instances: t.Dict[str, str] = {}
            for url in self.coordinators:
                result = run_on(BY_MODULE['lmcache_coordinator_info'], url, self.args)
                if result.get('failed'):
                    # Without the list no node can be said to be gone: keep the last one, say why, poll again later.
                    raise WatchError(inert(result.get('msg')) or 'no answer')
                instances.update((i['instance_id'], i['url']) for i in result['instances'])
            events += self.state.registrations(instances)
            names = dict((url, instance) for instance, url in instances.items())
        urls = sorted(set(self.urls) | set(names))
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(urls)))) as pool:
            results = dict(zip(urls, pool.map(lambda url: run_on(BY_MODULE['lmcache_server_info'], url, self.args), urls)))
        return events + self.state.reads(results, names)


class WatchError(Exception):
    """A coordinator could not be read: the poll is skipped and retried after a backoff."""
