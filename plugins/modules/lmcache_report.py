#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_report
short_description: Write an LMCache fleet report on the controller, as JSON, Markdown and a PNG chart
version_added: 0.1.0
description:
  - Builds a fleet report from server info results by host (each host's M(lmcache.kvcache.lmcache_server_info) result,
    or the RV(lmcache.kvcache.lmcache_fanout#module:results) of a V(server_info) fan-out) and writes it to O(dest) on
    the controller, C(lmcache-fleet-report.json), C(lmcache-fleet-report.md), and C(lmcache-fleet-report.png) where
    matplotlib is installed on the controller.
  - One row per host; a host whose result is missing or failed is a row with its error. The same rules as the filter
    C(lmcache.kvcache.fleet_report) decide the outliers.
  - Outliers are hosts that are unreachable or unhealthy, whose L1 is at or above its eviction watermark or above
    O(usage_warn), that run an API generation older than the current one, whose hit ratio is below O(hit_ratio_warn)
    (over the interval since the previous report where one is given, else since the server started), whose hit
    counters went down since the previous report (a restart), or whose administrative routes answer without an API key.
  - Hit counters count from each server's start. Given the report of an earlier run (O(previous)), each row and the
    fleet's totals also say the hits over the interval between the two.
  - The chart has a bar per host up to 60 hosts, and above that a histogram of L1 usage.
  - Runs on the controller in the Ansible process, as an action; the files carry no timestamp, so a report of an
    unchanged fleet changes nothing. The chart is drawn by the controller's Python in a process of its own, started
    with the task, which imports matplotlib (about a second) while the report is built; where that process cannot
    start or fails, the chart is drawn in the task's process.
author:
  - LMCache maintainers (@LMCache)
options:
  results:
    description:
      - Server info results, keyed by host.
      - One of O(results) and O(results_file) is required.
    type: dict
  results_file:
    description:
      - A JSON file on the controller of server info results keyed by host, as
        M(lmcache.kvcache.lmcache_fanout) writes it with O(lmcache.kvcache.lmcache_fanout#module:details_file).
      - Meant for large fleets. The results then never pass through Ansible's variables, which costs seconds per
        thousand hosts; the role C(lmcache.kvcache.fleet_report) reads a fleet this way with C(fleet_report_fanout=true).
      - Only a regular file is read, up to 256 MiB.
    type: path
    version_added: 0.2.0
  dest:
    description: Directory on the controller to write the report to; created if missing.
    type: path
    required: true
  usage_warn:
    description: L1 usage ratio (more than 0, at most 1) from which a host is an outlier, even below its eviction watermark.
    type: float
    default: 0.7
  hit_ratio_warn:
    description:
      - Hit ratio (more than 0, at most 1) under which a host that looked something up is an outlier.
    type: float
    default: 0.1
    version_added: 0.2.0
  previous:
    description:
      - An earlier report of the fleet (its C(lmcache-fleet-report.json), or the directory holding it; O(dest) itself
        compares with the last run), for the hits over the interval since. Read before the new report is written.
      - When there is no report there yet, the task warns and the report has no interval.
    type: path
    version_added: 0.2.0
  chart:
    description: Whether to draw the PNG chart. Without matplotlib on the controller it is skipped, with a warning.
    type: bool
    default: true
  details:
    description:
      - Which hosts' rows the task's result holds in RV(report.hosts). V(all) every host's; V(exceptions) only
        those of the hosts that are unreachable, not healthy, or whose administrative routes answer anyone, for a large
        fleet (RV(report.host_count), RV(report.healthy_count) and RV(report.unhealthy_hosts) say the rest; without
        RV(report.healthy_hosts), a list of almost every host).
      - The files always have every host's row.
    type: str
    choices: [all, exceptions]
    default: all
    version_added: 0.2.0
  expected_config:
    description:
      - The configuration values the operator expects every node to run with, in the nodes' configuration's shape
        (for example a C(chunk_size) of 256 under C(mp)); a node whose configuration (read with
        O(lmcache.kvcache.lmcache_server_info#module:config=true)) differs is listed in RV(report.config_drift) and is
        an outlier.
    type: dict
    version_added: 0.2.0
extends_documentation_fragment:
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: In check mode no file is written; C(changed) says whether one would be.
    support: full
  diff_mode:
    description: No diff; RV(files_changed) names the files that change.
    support: none
  idempotent:
    description: The same results write the same bytes, and change nothing.
    support: full
  action_group:
    description: Not in the C(lmcache.kvcache.lmcache) action group; it takes no connection options.
    support: none
seealso:
  - module: lmcache.kvcache.lmcache_fanout
  - module: lmcache.kvcache.lmcache_server_info
'''

EXAMPLES = r'''
- name: Read every node at once
  lmcache.kvcache.lmcache_fanout:
    operation: server_info
    hosts: lmcache
    max_fail_percentage: 100
    # Every host's result, not only the exceptions (the default above 100 hosts).
    details: all
  register: fleet
  run_once: true

- name: Write the report
  lmcache.kvcache.lmcache_report:
    results: "{{ fleet.results }}"
    dest: /srv/reports/lmcache
  run_once: true
  register: report

- name: Show the outliers
  ansible.builtin.debug:
    msg: "{{ report.report.outliers }}"
  run_once: true

- name: Read every node's hit counters and which admin routes anyone can call
  lmcache.kvcache.lmcache_fanout:
    operation: server_info
    hosts: lmcache
    details: all
    args:
      audit: true
  register: fleet
  run_once: true

- name: Report, with the hit ratio since the last report written there
  lmcache.kvcache.lmcache_report:
    results: "{{ fleet.results }}"
    dest: /srv/reports/lmcache
    previous: /srv/reports/lmcache
    hit_ratio_warn: 0.2
  run_once: true

- name: Read 10,000 nodes, every result into a file instead of a variable
  lmcache.kvcache.lmcache_fanout:
    operation: server_info
    hosts: lmcache
    max_fail_percentage: 100
    details_file: /srv/reports/work/lmcache-hosts.json
  run_once: true

- name: Report on them from that file
  lmcache.kvcache.lmcache_report:
    results_file: /srv/reports/work/lmcache-hosts.json
    dest: /srv/reports/lmcache
  run_once: true
'''

RETURN = r'''
report:
  description: The report, as written to C(lmcache-fleet-report.json).
  returned: success
  type: dict
  sample: {hosts: [{host: gpu-a, healthy: true, l1_objects: 4, l1_usage_ratio: 0.016}], outliers: []}
  contains:
    hosts:
      description:
        - One row per host, by host name.
        - With O(details=exceptions), only the rows of the hosts that are unreachable, not healthy, or whose
          administrative routes answer anyone (the file has every row).
      type: list
      elements: dict
      sample: [{host: gpu-a, healthy: true, l1_objects: 4, l1_usage_ratio: 0.016}]
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
      description: How many hosts the report has (every host, whatever O(details) says).
      type: int
      sample: 2
      version_added: 0.2.0
    healthy_hosts:
      description: The hosts that were read and are healthy, by host name.
      returned: when O(details=all)
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
    config_drift:
      description:
        - Where the results hold the nodes' configuration (O(lmcache.kvcache.lmcache_server_info#module:config=true)),
          or O(expected_config) is set, the configuration drift among the healthy nodes; V(null) otherwise.
        - A field is compared among the nodes that have it (a field one release does not have is not drift), and the
          fields that name the node itself (its host, ports, instance id, shared memory, its API key files) never are.
      type: dict
      version_added: 0.2.0
      sample: {nodes: 3, fields: [{field: mp.chunk_size, value: 256, nodes: 3, differing_count: 1,
                                   differing: [{host: gpu-c, value: 512}]}], expected: []}
      contains:
        nodes:
          description: How many nodes' configurations were compared.
          type: int
        fields:
          description: Each field not the same on every node that has it, with the fleet's most common value and the nodes that differ.
          type: list
          elements: dict
        expected:
          description: Each declared value some node does not have (or no node has the field), with those nodes.
          type: list
          elements: dict
    outliers:
      description: The outliers, each with C(host) and C(reason).
      type: list
      elements: dict
      sample: [{host: gpu-d, reason: old API generation G1 (LMCache 0.4.1 - 0.4.4)}]
      contains:
        host:
          description: The host name.
          type: str
          sample: gpu-d
        reason:
          description: Why it is an outlier.
          type: str
          sample: old API generation G1 (LMCache 0.4.1 - 0.4.4)
files:
  description: The files of the report.
  returned: success
  type: list
  elements: str
  sample: [lmcache-fleet-report.json, lmcache-fleet-report.md, lmcache-fleet-report.png]
files_changed:
  description: The files written (in check mode, that would be written) because they differed.
  returned: success
  type: list
  elements: str
  sample: [lmcache-fleet-report.json, lmcache-fleet-report.md]
msg:
  description: Where the report is, and its counts.
  returned: always
  type: str
  sample: "/srv/reports/lmcache: 4 hosts, 4 healthy, 1 outliers."
'''
