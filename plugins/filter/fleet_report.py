# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""fleet_report: a fleet report's rows and outliers from per-host server_info results (each host's module result,
or the fan-out's results). Documented here, in Python, so that every reader of plugins (galaxy-importer's flake8
included) reads a Python file."""

from __future__ import annotations

DOCUMENTATION = r'''
name: fleet_report
version_added: 0.1.0
short_description: The rows and outliers of an LMCache fleet report, from server info results by host
description:
  - Turns the results of M(lmcache.kvcache.lmcache_server_info), by host, into a fleet report, one row per host, and
    its outliers. The results may come from a task on each host (C(hostvars)) or from the fan-out
    (M(lmcache.kvcache.lmcache_fanout) with O(lmcache.kvcache.lmcache_fanout#module:operation=server_info)).
  - A host whose result is missing or failed is a row with its error, and an outlier.
  - Outliers are hosts that are unreachable or unhealthy, whose L1 is at or above its eviction watermark or above
    O(usage_warn), or that run an API generation older than the current one.
  - The role C(lmcache.kvcache.fleet_report) writes these as JSON, Markdown and a chart.
positional: usage_warn
options:
  _input:
    description: Server info results, keyed by host.
    type: dict
    required: true
  usage_warn:
    description: L1 usage ratio (0 to 1) from which a host is an outlier, even below its eviction watermark.
    type: float
    default: 0.7
author:
  - LMCache maintainers (@LMCache)
'''

EXAMPLES = r'''
- name: Report on the fleet from one fan-out
  lmcache.kvcache.lmcache_fanout:
    operation: server_info
    hosts: lmcache
  register: fleet
  run_once: true

- name: Show the outliers
  ansible.builtin.debug:
    msg: "{{ (fleet.results | lmcache.kvcache.fleet_report(0.75)).outliers }}"
  run_once: true
'''

RETURN = r'''
_value:
  description: The report.
  type: dict
  contains:
    hosts:
      description: One row per host, by host name.
      type: list
      elements: dict
      contains:
        host:
          description: The host name.
          type: str
          sample: gpu-a
        url:
          description: The LMCache URL read.
          type: str
          sample: http://10.0.0.11:8080
        reachable:
          description: Whether the server answered and could be read.
          type: bool
          sample: true
        error:
          description: Why it could not be read; V(null) when it could.
          type: str
          sample: null
        healthy:
          description: Whether the server reports itself healthy.
          type: bool
          sample: true
        health_reason:
          description: Why it is not healthy; V(null) when it is.
          type: str
          sample: null
        version:
          description: The version the server reports; V(null) for G1 servers, which report none.
          type: str
          sample: 0.5.6-g3e11e108
        release:
          description: The version, else the release range of its API generation.
          type: str
          sample: 0.5.6-g3e11e108
        api_generation:
          description: The API generation, V(G1), V(G2) or V(G3).
          type: str
          sample: G3
        l1_objects:
          description: KV objects in L1.
          type: int
          sample: 4
        l1_bytes_used:
          description: Bytes of L1 in use.
          type: int
          sample: 16777216
        l1_bytes_total:
          description: Bytes of L1 in all.
          type: int
          sample: 1073741824
        l1_usage_ratio:
          description: L1 in use, from 0 to 1.
          type: float
          sample: 0.016
        eviction_watermark:
          description: L1 usage from which the server evicts, from 0 to 1.
          type: float
          sample: 0.8
        l2_adapters:
          description: The types of its L2 adapters.
          type: list
          elements: str
          sample: [fs]
        quotas:
          description: How many tenant quotas it has.
          type: int
          sample: 0
        active_sessions:
          description: Sessions the server reports as active.
          type: int
          sample: 1
        duplicate_of:
          description:
            - The host whose URL this host has, when the fan-out read that URL once, as that host (the row shows
              that host's server, and the host is an outlier); V(null) otherwise.
          type: str
          sample: null
    outliers:
      description: The outliers, each a dict with C(host) and C(reason).
      type: list
      elements: dict
      contains:
        host:
          description: The host name.
          type: str
          sample: gpu-d
        reason:
          description: Why it is an outlier.
          type: str
          sample: old API generation G1 (LMCache 0.4.1 - 0.4.4)
'''

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._report import build_report


def fleet_report(results: t.Mapping[str, t.Any], usage_warn: float = 0.7) -> t.Dict[str, t.Any]:
    if not isinstance(results, dict):
        raise AnsibleFilterError('fleet_report expects a dict of server_info results by host, got %s' % type(results).__name__)
    try:
        warn = float(usage_warn)
    except (TypeError, ValueError):
        raise AnsibleFilterError('fleet_report usage_warn must be a number from 0 to 1, got %r' % (usage_warn,))
    return build_report(results, warn)


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return dict(fleet_report=fleet_report)
