# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Configuration drift: which nodes run with a configuration that differs from the fleet's most common one, or from
what the operator declared. Nodes started by hand or by different charts drift apart; this says which node differs,
in which field, from what.

A configuration is compared field by field (its leaves, by dotted path: mp.chunk_size). Two kinds of field are never
drift:
- a field one release does not have (a fleet that mixes releases): a field is compared among the nodes that have it;
- a field that names the node itself rather than how it is set up (NODE_FIELDS): its own address and ports, its
  instance id, the names of its shared-memory pools, where its key files are (0.5.7). Every node differs there, as it
  should.

Private to this collection.
"""

from __future__ import annotations

import json
import typing as t

# The last part of a field's path that names the node itself: its host and ports (mp.host, mp.port), its ids
# (mp.instance_id, an engine's lmcache_instance_id), its shared memory (shm_name: a per-process pool), its internal API
# server's address, its advertised URLs, and where its API key files are (0.5.7's mp.api_key_files).
NODE_FIELDS = frozenset(('host', 'port', 'instance_id', 'lmcache_instance_id', 'shm_name', 'api_key_files',
                         'internal_api_server_host', 'internal_api_server_port_start', 'advertise_url', 'listen_url',
                         'advertise_ip', 'http_host', 'http_port'))
# At most this many differing nodes are listed per field (the count says how many there are).
MAX_LISTED = 20


def leaves(config: t.Any, prefix: str = '') -> t.Dict[str, t.Any]:
    """{'mp.chunk_size': 256, ...}: every leaf of a configuration by its dotted path (a list is one leaf)."""
    if isinstance(config, dict) and config:
        found: t.Dict[str, t.Any] = {}
        for key, value in config.items():
            found.update(leaves(value, '%s.%s' % (prefix, key) if prefix else str(key)))
        return found
    return {prefix: config} if prefix else {}


def _text(value: t.Any) -> str:
    return json.dumps(value, sort_keys=True)


def drift(configs: t.Mapping[str, t.Any], expected: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Dict[str, t.Any]:
    """{fields: [{field, value, nodes, differing: [{host, value}], differing_count}], expected: [...]} over the nodes'
    configurations by host (those that could be read); see the module's docstring for what is not drift."""
    flat = dict((host, leaves(config)) for host, config in configs.items() if isinstance(config, dict))
    by_field: t.Dict[str, t.Dict[str, t.Any]] = {}
    for host, fields in flat.items():
        for name, value in fields.items():
            if name.rsplit('.', 1)[-1] not in NODE_FIELDS:
                by_field.setdefault(name, {})[host] = value
    fields_drifted = []
    for name in sorted(by_field):
        values = by_field[name]
        counts: t.Dict[str, int] = {}
        for value in values.values():
            counts[_text(value)] = counts.get(_text(value), 0) + 1
        if len(counts) < 2:
            continue
        # The fleet's value: the most common one; between equally common ones, the first in JSON order.
        common = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
        differing = [dict(host=host, value=value) for host, value in sorted(values.items()) if _text(value) != common]
        fields_drifted.append(dict(field=name, value=json.loads(common), nodes=len(values),
                                   differing=differing[:MAX_LISTED], differing_count=len(differing)))
    declared = []
    for name, want in sorted(leaves(dict(expected or {})).items()):
        holders = dict((host, fields[name]) for host, fields in flat.items() if name in fields)
        differing = [dict(host=host, value=value) for host, value in sorted(holders.items()) if _text(value) != _text(want)]
        if differing or not holders:
            declared.append(dict(field=name, expected=want, nodes=len(holders), differing=differing[:MAX_LISTED],
                                 differing_count=len(differing)))
    return dict(nodes=len(flat), fields=fields_drifted, expected=declared)


def reasons_by_host(found: t.Mapping[str, t.Any]) -> t.Dict[str, t.List[str]]:
    """What makes each host an outlier: the fields where it differs from the fleet, or from what was declared."""
    reasons: t.Dict[str, t.List[str]] = {}
    for entry in found.get('fields', []):
        for node in entry['differing']:
            reasons.setdefault(node['host'], []).append('%s is %s, the fleet\'s %s' % (
                entry['field'], _text(node['value']), _text(entry['value'])))
    for entry in found.get('expected', []):
        for node in entry['differing']:
            reasons.setdefault(node['host'], []).append('%s is %s, declared %s' % (
                entry['field'], _text(node['value']), _text(entry['expected'])))
    return reasons
