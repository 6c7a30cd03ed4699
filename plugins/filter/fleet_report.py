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
    O(usage_warn), that run an API generation older than the current one, whose hit ratio is below O(hit_ratio_warn)
    (over the interval since the previous report where one is given, else since the server started), whose hit
    counters went down since the previous report (a restart), or whose administrative routes answer without an API key.
  - The role C(lmcache.kvcache.fleet_report) writes these as JSON, Markdown and a chart.
positional: usage_warn, hit_ratio_warn, previous
options:
  _input:
    description: Server info results, keyed by host.
    type: dict
    required: true
  usage_warn:
    description: L1 usage ratio (0 to 1) from which a host is an outlier, even below its eviction watermark.
    type: float
    default: 0.7
  hit_ratio_warn:
    description: Hit ratio (0 to 1) under which a host that looked something up is an outlier.
    type: float
    default: 0.1
    version_added: 0.2.0
  previous:
    description:
      - An earlier report of the same fleet (this filter's output, or a report file read with C(from_json)), for each
        host's and the fleet's hits over the interval since.
    type: dict
    version_added: 0.2.0
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
        hits:
          description:
            - The host's hit counters since its server started (V(lookups), V(requested_tokens), V(hit_tokens),
              V(hit_tokens_l1), V(hit_tokens_l2)) and their ratios (V(hit_ratio), V(l1_hit_share), V(l2_hit_share)),
              from RV(lmcache.kvcache.lmcache_server_info#module:hits); V(null) where the server reported none.
          type: dict
          sample: {lookups: 4, requested_tokens: 2048, hit_tokens: 1024, hit_tokens_l1: 1024, hit_tokens_l2: 0,
                   hit_ratio: 0.5, l1_hit_share: 1.0, l2_hit_share: 0.0}
        hits_interval:
          description:
            - With a previous report, the same counters over the interval since it (the differences) and their ratios,
              and V(restarted), true when a counter went down (the server restarted; the interval then starts at the
              restart). V(null) where either report has no counters for the host.
          type: dict
          returned: with a previous report
          sample: {lookups: 2, requested_tokens: 1024, hit_tokens: 1024, hit_tokens_l1: 1024, hit_tokens_l2: 0,
                   hit_ratio: 1.0, l1_hit_share: 1.0, l2_hit_share: 0.0, restarted: false}
        exposed:
          description:
            - The administrative routes that answered without an API key, from
              RV(lmcache.kvcache.lmcache_server_info#module:exposure) (read with O(lmcache.kvcache.lmcache_server_info#module:audit=true));
              V(null) where no audit ran.
          type: list
          elements: str
          sample: [POST /run_script, GET /env]
    hits:
      description:
        - The fleet's hits since each server started, each counter summed over the hosts that report it (V(hosts) says
          how many), with the ratios of the sums.
      type: dict
      sample: {hosts: 2, lookups: 8, requested_tokens: 4096, hit_tokens: 2048, hit_tokens_l1: 2048, hit_tokens_l2: 0,
               hit_ratio: 0.5, l1_hit_share: 1.0, l2_hit_share: 0.0}
    hits_interval:
      description: With a previous report, the fleet's hits over the interval since it, summed the same way.
      type: dict
      returned: with a previous report
      sample: {hosts: 2, lookups: 2, requested_tokens: 1024, hit_tokens: 512, hit_tokens_l1: 512, hit_tokens_l2: 0,
               hit_ratio: 0.5, l1_hit_share: 1.0, l2_hit_share: 0.0}
    host_count:
      description: How many hosts the report has.
      type: int
      sample: 2
      version_added: 0.2.0
    healthy_hosts:
      description: The hosts that were read and are healthy, by host name.
      type: list
      elements: str
      sample: [gpu-a]
      version_added: 0.2.0
    healthy_count:
      description: How many hosts were read and are healthy.
      type: int
      sample: 1
      version_added: 0.2.0
    unhealthy_hosts:
      description: The hosts that are unreachable or not healthy, by host name.
      type: list
      elements: str
      sample: [gpu-b]
      version_added: 0.2.0
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


def fleet_report(results: t.Mapping[str, t.Any], usage_warn: float = 0.7, hit_ratio_warn: float = 0.1,
                 previous: t.Optional[t.Mapping[str, t.Any]] = None) -> t.Dict[str, t.Any]:
    if not isinstance(results, dict):
        raise AnsibleFilterError('fleet_report expects a dict of server_info results by host, got %s' % type(results).__name__)
    if previous is not None and not (isinstance(previous, dict) and isinstance(previous.get('hosts'), list)):
        raise AnsibleFilterError('fleet_report previous must be an earlier fleet report (a dict with a list of hosts)')
    levels = []
    for name, value in (('usage_warn', usage_warn), ('hit_ratio_warn', hit_ratio_warn)):
        try:
            levels.append(float(value))
        except (TypeError, ValueError):
            raise AnsibleFilterError('fleet_report %s must be a number from 0 to 1, got %r' % (name, value))
    return build_report(results, levels[0], levels[1], previous)


class FilterModule:
    def filters(self) -> t.Dict[str, t.Callable[..., t.Any]]:
        return dict(fleet_report=fleet_report)
