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

import math
import re
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import (
    CONNECTION_ARGUMENT_SPEC, connection_problems, url_problems)
from ansible_collections.lmcache.kvcache.plugins.module_utils._metrics import interval
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import BY_MODULE
from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import NETWORKS_ARGUMENT_SPEC, Networks
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._drift import drift
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._local import run_on
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._parallel import run_concurrently

VERSION = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$')
TEXT_MAX_CHARS = 300
# At most this many thread names in an event.
MAX_NAMES = 20


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
        # The names of the periodic threads last read as not active (None: never read).
        self.dead_threads: t.Optional[t.List[str]] = None


class FleetState:
    """Turns successive reads of a fleet into events: one per change of a node's registration, health, L1 usage against
    the watermark, hit ratio against the floor, version or generation, and of the fleet's set of versions."""

    def __init__(self, watermark: t.Optional[float] = None, hit_ratio_floor: t.Optional[float] = None,
                 hit_ratio_min_tokens: int = 1, expected_config: t.Optional[t.Mapping[str, t.Any]] = None) -> None:
        # None: each node's own eviction watermark.
        self.watermark = watermark
        self.expected_config = expected_config
        # The configuration drift last reported, as the set of (field, differing URLs) it was made of.
        self.config_drift: t.FrozenSet[t.Tuple[str, t.Tuple[str, ...]]] = frozenset()
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

    def reads(self, results: t.Mapping[str, t.Mapping[str, t.Any]], names: t.Mapping[str, str],
              vouched: t.Optional[t.Mapping[str, bool]] = None) -> t.List[t.Dict[str, t.Any]]:
        """Events from one poll's server info results by node URL (`names`: instance id by URL, where known;
        `vouched`: whether the API key may go to the URL, which each event says for the playbook it runs)."""
        events: t.List[t.Dict[str, t.Any]] = []
        for url in sorted(results):
            node = self.nodes.setdefault(url, Node())
            events += [dict(e, lmcache=dict(e['lmcache'], url=url, instance_id=names.get(url),
                                            vouched=(vouched or {}).get(url, True)))
                       for e in self._node_events(node, results[url])]
        for url in set(self.nodes) - set(results):
            del self.nodes[url]
        return events + self._drift(results) + self._config_drift(results)

    def _node_events(self, node: Node, result: t.Mapping[str, t.Any]) -> t.List[t.Dict[str, t.Any]]:
        read = 'healthy' in result and not result.get('failed')
        healthy = bool(read and result.get('healthy'))
        events = self._thread_events(node, result.get('threads') if read else None)
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

    def _thread_events(self, node: Node, threads: t.Any) -> t.List[t.Dict[str, t.Any]]:
        """threads_unhealthy when a node's periodic threads stop being active (or others stop), threads_healthy when
        they are all active again; nothing where they cannot be read."""
        if not isinstance(threads, dict) or not isinstance(threads.get('unhealthy'), list):
            return []
        dead = sorted(t.cast(str, inert(name)) for name in threads['unhealthy'][:MAX_NAMES])
        before, node.dead_threads = node.dead_threads, dead
        if dead and dead != before:
            return [event('threads_unhealthy', threads=dead)]
        if not dead and before:
            return [event('threads_healthy', previous_threads=before)]
        return []

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

    def _config_drift(self, results: t.Mapping[str, t.Mapping[str, t.Any]]) -> t.List[t.Dict[str, t.Any]]:
        """One event when the configuration drift among the healthy nodes (and from expected_config) changes and is
        not none: each field, the fleet's value, the nodes that differ and their values, every node text inert."""
        configs = dict((url, result['config']) for url, result in results.items()
                       if result.get('healthy') and not result.get('failed') and isinstance(result.get('config'), dict))
        if not configs and not self.expected_config:
            return []
        found = drift(configs, self.expected_config)
        entries = [dict(field=inert(e['field']), value=_inert_value(e.get('value', e.get('expected'))),
                        expected='expected' in e, differing=[dict(url=d['host'], value=_inert_value(d['value']))
                                                             for d in e['differing']])
                   for e in found['fields'] + found['expected']]
        key = frozenset((e['field'], tuple(d['url'] for d in e['differing'])) for e in entries)
        changed, self.config_drift = key != self.config_drift, key
        return [event('config_drift', fields=entries, nodes=found['nodes'])] if changed and entries else []


def _inert_value(value: t.Any) -> t.Any:
    """A configuration value a node sent, as an event may carry it: every string in it inert."""
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, list):
        return [_inert_value(item) for item in value]
    if isinstance(value, dict):
        return dict((inert(str(k)), _inert_value(v)) for k, v in value.items())
    return value


def event(kind: str, **fields: t.Any) -> t.Dict[str, t.Any]:
    return dict(lmcache=dict(fields, type=kind))


class FleetWatch:
    """One poll of the fleet: the coordinators' instances and every node's server info, read in parallel, each bounded
    by the connection options' deadline; the events of what changed.

    A node the operator listed (urls) is vouched for; one found in a registry only where networks vouches for it (the
    others are read without the API key, or left out when networks is set, with one event each)."""

    def __init__(self, args: t.Mapping[str, t.Any], urls: t.Sequence[str], coordinators: t.Sequence[str],
                 state: FleetState, concurrency: int = 32) -> None:
        self.args = dict(args)
        self.urls = list(urls)
        self.coordinators = list(coordinators)
        self.state = state
        self.concurrency = concurrency
        # Registrations outside networks already reported: (coordinator, instance id, url).
        self.outside: t.Set[t.Tuple[str, str, str]] = set()

    def poll(self) -> t.List[t.Dict[str, t.Any]]:
        events: t.List[t.Dict[str, t.Any]] = []
        names: t.Dict[str, str] = {}
        vouched = dict((url, True) for url in self.urls)
        if self.coordinators:
            instances: t.Dict[str, str] = {}
            # Read at once, taken in the order of coordinator_url, as one after another.
            read = run_concurrently(lambda url: run_on(BY_MODULE['lmcache_coordinator_info'], url, self.args),
                                    self.coordinators, self.concurrency)
            for url, result in zip(self.coordinators, read):
                if result.get('failed'):
                    # Without the list no node can be said to be gone: keep the last one, say why, poll again later.
                    raise WatchError(inert(result.get('msg')) or 'no answer')
                instances.update((i['instance_id'], i['url']) for i in result['instances'])
                for instance in result['instances']:
                    vouched.setdefault(instance['url'], instance['vouched'])
                events += self._outside(url, result['outside'])
            events += self.state.registrations(instances)
            names = dict((url, instance) for instance, url in instances.items())
        urls = sorted(vouched)
        results = dict(zip(urls, run_concurrently(
            lambda url: run_on(BY_MODULE['lmcache_server_info'], url, self.args, vouched=vouched[url]), urls, self.concurrency)))
        return events + self.state.reads(results, names, vouched)

    def _outside(self, coordinator: str, outside: t.List[t.Dict[str, str]]) -> t.List[t.Dict[str, t.Any]]:
        """One event per registration outside networks, the first time a poll finds it (ids and URLs as checked)."""
        events = []
        for instance in outside:
            seen = (coordinator, instance['instance_id'], instance['url'])
            if seen not in self.outside:
                self.outside.add(seen)
                events.append(event('registration_outside', coordinator_url=coordinator, **instance))
        return events


class WatchError(Exception):
    """A coordinator could not be read: the poll is skipped and retried after a backoff."""


# The source's own options; with the connection options of the modules (less url: the source's urls and the
# coordinators' registrations say where to go) and networks, they are its argument spec, checked at start
# (source_options) and documented in extensions/eda/plugins/event_source/fleet.py (tests/unit checks they agree).
SOURCE_OPTIONS: t.Dict[str, t.Dict[str, t.Any]] = dict(
    urls=dict(type='list', elements='str'),
    coordinator_url=dict(type='list', elements='str'),
    interval=dict(type='float', default=30.0),
    max_interval=dict(type='float', default=300.0),
    watermark=dict(type='float'),
    hit_ratio_floor=dict(type='float'),
    hit_ratio_min_tokens=dict(type='int', default=1),
    concurrency=dict(type='int', default=32),
    # One poll's reads are bounded by the interval by default, and retried once: the next poll comes soon anyway.
    retries=dict(type='int', default=1),
    deadline=dict(type='float'),
    config_drift=dict(type='bool', default=False),
    expected_config=dict(type='dict'),
)
SOURCE_ARGUMENT_SPEC = dict(
    [(name, spec) for name, spec in CONNECTION_ARGUMENT_SPEC.items() if name not in ('url', 'url_vouched')],
    **dict(NETWORKS_ARGUMENT_SPEC, **SOURCE_OPTIONS))
MAX_CONCURRENCY = 1024


def source_options(args: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The source's arguments checked as a module's are (types, then values), with defaults filled in; SourceError
    naming the option when one is wrong, before any request, so that a typo never shows up as a node's health."""
    validated = ArgumentSpecValidator(SOURCE_ARGUMENT_SPEC).validate(dict(args))
    if validated.error_messages:
        raise SourceError('; '.join(validated.error_messages))
    options = validated.validated_parameters
    if options['deadline'] is None:
        options['deadline'] = options['interval']
    problems = connection_problems(dict(options, url=None), url_options=()) + Networks.problems(options['networks'])
    for option in ('urls', 'coordinator_url'):
        for url in options[option] or []:
            problems += url_problems(option, url)
    if not options['urls'] and not options['coordinator_url']:
        problems.append('set urls, coordinator_url, or both')
    for option, low, high in (('interval', 0, 86400), ('max_interval', 0, 86400), ('watermark', 0, 1),
                              ('hit_ratio_floor', 0, 1)):
        value = options[option]
        if value is not None and not (math.isfinite(value) and low < value <= high):
            problems.append('%s must be greater than %s and at most %s, got %s' % (option, low, high, value))
    if options['hit_ratio_min_tokens'] < 1:
        problems.append('hit_ratio_min_tokens must be 1 or more, got %d' % options['hit_ratio_min_tokens'])
    if not 1 <= options['concurrency'] <= MAX_CONCURRENCY:
        problems.append('concurrency must be from 1 to %d, got %d' % (MAX_CONCURRENCY, options['concurrency']))
    if problems:
        raise SourceError('; '.join(problems))
    return options


class SourceError(ValueError):
    """The source's options are wrong: it stops, saying which and why."""

    def __init__(self, problem: str) -> None:
        super().__init__('lmcache.kvcache.fleet: %s' % problem)
