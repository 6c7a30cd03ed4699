#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lmcache_fanout
short_description: Run one LMCache operation against a whole fleet at once, from the controller
version_added: 0.1.0
description:
  - Runs the operation of one of this collection's modules (O(operation)) against many LMCache endpoints concurrently,
    from the controller, in one task. A clear, a report, a quota, a prefetch or a targeted clear of 1,000 nodes takes
    seconds instead of minutes.
  - Each endpoint runs exactly what the module would run on its host, with the same checks, retries, deadline, error
    messages and result fields. Only the transport differs, which is why this is an action plugin. One task per host
    costs Ansible about 0.02 s of controller time per host even for a trivial task, plus a Python process per host
    for a module; here the controller runs the endpoints in threads.
  - The endpoints are the hosts named by O(hosts) (their URL from the host variable O(url_var)), or O(endpoints).
    Their APIs must be reachable from the controller, as the LMCache coordinator reaches them. For servers that only
    listen on their GPU host's loopback, run the modules on the hosts instead.
  - A canary then batches, like a play's C(serial), and a failure threshold like C(max_fail_percentage) that stops the
    remaining batches. Every endpoint's outcome (changed, failed, rejected, not run) is in RV(results), keyed by host.
  - Run it once per play (C(run_once=true), or a play on C(localhost)); it refuses to run once per host.
author:
  - LMCache maintainers (@LMCache)
options:
  operation:
    description:
      - What to run on each endpoint, by module. V(server_info) is M(lmcache.kvcache.lmcache_server_info),
        V(clear) M(lmcache.kvcache.lmcache_kvcache_clear), V(quota) M(lmcache.kvcache.lmcache_quota), V(prefetch)
        M(lmcache.kvcache.lmcache_kvcache_prefetch), V(info) M(lmcache.kvcache.lmcache_kvcache_info), V(pin)
        M(lmcache.kvcache.lmcache_kvcache_pin), V(compress) M(lmcache.kvcache.lmcache_kvcache_compress), V(loglevel)
        M(lmcache.kvcache.lmcache_loglevel) and V(engine) M(lmcache.kvcache.lmcache_engine) (on engines inside vLLM).
      - V(info) and V(pin) by C(token_ids) in O(args) go through the coordinator and cover the whole fleet in one call, so run
        their modules once instead. By C(request_id) they act on each endpoint.
    type: str
    required: true
    choices: [clear, compress, engine, info, loglevel, pin, prefetch, quota, server_info]
  args:
    description:
      - 'The options of the module named by O(operation), except O(url), for example V({force: true}) for V(clear) or
        V({cache_salt: tenant-a, limit_gb: 0.5}) for V(quota). They are checked as the module checks them, before any
        request.'
      - The connection options below apply to every endpoint; O(args) may set them too.
    type: dict
    default: {}
  hosts:
    description:
      - The inventory hosts to run on, a group name, a host name, a comma-separated list of them, or a list.
      - Default is the hosts of the play, when it is not a play on C(localhost).
      - Mutually exclusive with O(endpoints).
    type: raw
  exclude_hosts:
    description:
      - Inventory hosts to leave out of O(hosts) (or of the hosts of the play), such as the hosts a health check found
        not healthy. Each must be a host of the inventory; a name that is not fails the task before any request.
      - For a large play, this is cheaper than a list of the hosts to keep, which Ansible would check item by item in
        every task that passes it on.
      - When it leaves out every host, nothing is run and the task succeeds, unchanged.
      - Mutually exclusive with O(endpoints).
    type: list
    elements: str
    default: []
    version_added: 0.2.0
  endpoints:
    description:
      - The endpoints to run on, without an inventory. Each item is a URL, or a dict with C(url), and optionally
        C(name) and C(api_key) (that endpoint's own key, instead of O(api_key)).
      - Mutually exclusive with O(hosts).
    type: list
    elements: raw
  url_var:
    description:
      - The host variable that holds each host's LMCache URL. The C(lmcache.kvcache.coordinator) inventory sets
        C(lmcache_url) on every host it finds.
      - A host without it fails with a message that names it, and the others run.
    type: str
    default: lmcache_url
  api_key_var:
    description:
      - The host variable that holds a host's own API key. A host that has it (not empty) is sent that key; the others
        O(api_key). So a key set per host, or per group, in the inventory (vaulted) reaches only its own hosts.
      - A key that no HTTP header can carry fails the task before any request, without showing the key.
      - A host whose C(lmcache_url_vouched) is V(false) is sent no key at all, neither its own nor O(api_key). The
        C(lmcache.kvcache.coordinator) inventory sets it for the nodes it found in a coordinator's registry while its
        C(networks) option vouches for no address. See O(url_vouched).
    type: str
    default: lmcache_api_key
  concurrency:
    description: How many endpoints run at the same time, from 1 to 1024.
    type: int
    default: 64
  batches:
    description:
      - Sizes of the consecutive batches, as numbers of endpoints or percentages of them, like a play's C(serial); the
        last size repeats. A size larger than what is left runs what is left.
      - Default is V([1, 100%]) (one canary, then the rest) for operations that write, V([100%]) for V(server_info)
        and V(info).
    type: list
    elements: raw
  max_fail_percentage:
    description:
      - When more than this percentage of a batch's endpoints fail, the remaining batches are not run; the task then fails.
      - With V(0), the default, any failure stops the fan-out and fails the task, like a play's C(max_fail_percentage=0).
        Above V(0), failures below the threshold are reported in RV(results) and RV(failed_hosts) and the task succeeds.
    type: float
    default: 0
  details:
    description:
      - Which endpoints' results RV(results) holds. V(all), every one; V(exceptions), those that failed, were rejected
        or were not run, and those that answered they are not healthy (V(server_info)); V(auto), every one
        up to 100 endpoints and the exceptions above, so that a 10,000-endpoint task result stays a summary and what
        needs looking at, not megabytes on the terminal.
      - RV(summary) counts every endpoint whatever this says, and RV(summary.results_left_out) how many are left out.
    type: str
    choices: [auto, all, exceptions]
    default: auto
    version_added: 0.2.0
  details_file:
    description:
      - A file on the controller to write every endpoint's result to, as JSON keyed by host, whatever O(details) says
        (secrets masked). Written through a new temporary file renamed over it, in check mode too (it is the task's
        output, not state it manages).
    type: path
    version_added: 0.2.0
  details_tmp:
    description:
      - Write every endpoint's result, as O(details_file) does, to a new file in the run's own local temporary directory
        (Ansible's C(DEFAULT_LOCAL_TMP), private to this C(ansible-playbook) run and removed with its files when the
        run ends), and return its path in RV(details_file).
      - For handing a large fleet's results to a later task of the same run (M(lmcache.kvcache.lmcache_report)'s
        O(lmcache.kvcache.lmcache_report#module:results_file)) without carrying them in a variable, and without tasks
        that make and remove a directory for them.
    type: bool
    default: false
    version_added: 0.2.0
  url:
    description:
      - Not used by the fan-out; each endpoint's URL comes from its host (O(url_var)) or O(endpoints). Accepted so that
        C(module_defaults) for the C(lmcache.kvcache.lmcache) group can set it for the other modules.
    type: str
  url_vouched:
    description:
      - With V(false), no endpoint is sent an API key. Each host's own C(lmcache_url_vouched) applies in any case.
    type: bool
    default: true
    version_added: 0.2.0
extends_documentation_fragment:
  - lmcache.kvcache.connection
  - lmcache.kvcache.attributes
attributes:
  check_mode:
    description: Each endpoint runs in check mode, as its module does; nothing is changed.
    support: full
  diff_mode:
    description: One diff per changed endpoint, headed by its name.
    support: full
  idempotent:
    description: As idempotent as the operation's module.
    support: full
seealso:
  - module: lmcache.kvcache.lmcache_kvcache_clear
  - module: lmcache.kvcache.lmcache_server_info
  - plugin: lmcache.kvcache.coordinator
    plugin_type: inventory
'''

EXAMPLES = r'''
# In a play on localhost: the hosts come from the inventory group.
- name: Clear L1 on every node of the group, one canary first, then 25% at a time
  lmcache.kvcache.lmcache_fanout:
    operation: clear
    hosts: lmcache
    batches: [1, "25%"]
    max_fail_percentage: 0
  register: window

- name: Say what happened
  ansible.builtin.debug:
    msg: "{{ window.msg }}"

# In a play over the group (hosts: lmcache): without hosts, the fan-out covers the hosts of the play (--limit applies).
- name: Read every server of the play
  lmcache.kvcache.lmcache_fanout:
    operation: server_info
  run_once: true
  register: fleet

- name: Hosts above their eviction watermark
  ansible.builtin.debug:
    msg: "{{ fleet.results | dict2items | selectattr('value.above_eviction_watermark', 'defined')
             | selectattr('value.above_eviction_watermark') | map(attribute='key') | list }}"
  run_once: true

# Endpoints given by URL, without an inventory.
- name: Give tenant-a a quota on three nodes
  lmcache.kvcache.lmcache_fanout:
    operation: quota
    endpoints:
      - http://10.0.0.11:8080
      - http://10.0.0.12:8080
      - {name: gpu-13, url: "http://10.0.0.13:8080"}
    args:
      cache_salt: tenant-a
      limit_gb: 0.5
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
msg:
  description: A summary in a sentence, with the first failures; on a bad option, what is wrong with it.
  returned: always
  type: str
  sample: "clear on 1000 endpoints in 3.1s: 998 changed, 0 unchanged, 2 failed, 0 rejected, 0 not run."
results:
  description:
    - Every endpoint's result (or, by O(details), only the exceptions), keyed by host name (or endpoint name), with the
      fields its module returns (RV(results.changed), RV(results.msg), RV(results.url), RV(results.status),
      RV(results.api_generation), RV(results.version) and the operation's own), and RV(results.failed),
      RV(results.rejected) or RV(results.skipped) where they apply.
  returned: when the options were good
  type: dict
  sample:
    gpu-01: {changed: true, url: "http://10.0.0.11:8080", status: 200, api_generation: G3, version: 0.5.6-g3e11e108,
             objects_cleared: 4, msg: "Cleared 4 objects (16.00 MB) from L1 of http://10.0.0.11:8080 (LMCache 0.5.6-g3e11e108, API G3)."}
    gpu-02: {changed: false, failed: true, url: "http://10.0.0.12:8080", status: null,
             msg: "GET http://10.0.0.12:8080/openapi.json failed: cannot connect to http://10.0.0.12:8080 (Connection refused) (after 4 attempts)"}
  contains:
    changed:
      description: Whether this endpoint changed (in check mode, would change).
      type: bool
      sample: true
    failed:
      description: Present and true when this endpoint failed.
      type: bool
      sample: true
    rejected:
      description: Present for V(pin), true when the pin was rejected.
      type: bool
      sample: false
    skipped:
      description: Present and true when this endpoint was not run (the fan-out stopped first, or another host has its URL).
      type: bool
      sample: true
    duplicate_of:
      description:
        - The endpoint that runs this one's URL, when that is why this one was not run (two hosts with one URL are one
          server, which is run once). The task also warns once, naming every such endpoint.
      type: str
      sample: gpu-01
    msg:
      description: What was done on this endpoint, or why it failed, as its module says it.
      type: str
      sample: Cleared 4 objects (16.00 MB) from L1 of http://10.0.0.11:8080 (LMCache 0.5.6-g3e11e108, API G3).
    url:
      description: The endpoint's URL, without credentials.
      type: str
      sample: http://10.0.0.11:8080
    status:
      description: HTTP status of the endpoint's last request; V(null) when it got no answer.
      type: int
      sample: 200
    api_generation:
      description: The endpoint's API generation, when found out.
      type: str
      sample: G3
    version:
      description: The endpoint's version, when read.
      type: str
      sample: 0.5.6-g3e11e108
summary:
  description: Counts over all endpoints, the batches and why the fan-out stopped, if it did.
  returned: when the options were good
  type: dict
  sample: {endpoints: 1000, changed: 998, unchanged: 0, failed: 2, rejected: 0, not_run: 0, duplicates: 0, excluded: 0,
           batches: [1, 250, 250, 250, 249],
           batches_run: 5, stopped: null, seconds: 3.1}
  contains:
    endpoints:
      description: Endpoints in all.
      type: int
      sample: 1000
    changed:
      description: Endpoints changed.
      type: int
      sample: 998
    unchanged:
      description: Endpoints run without a change.
      type: int
      sample: 0
    failed:
      description: Endpoints failed.
      type: int
      sample: 2
    rejected:
      description: Endpoints whose operation was rejected.
      type: int
      sample: 0
    not_run:
      description: Endpoints not run.
      type: int
      sample: 0
    duplicates:
      description: Endpoints not run because another endpoint has the same URL (counted in RV(summary.not_run) too).
      type: int
      sample: 0
    excluded:
      description: Hosts left out by O(exclude_hosts) (not counted in RV(summary.endpoints)).
      type: int
      sample: 0
      version_added: 0.2.0
    batches:
      description: The batch sizes.
      type: list
      elements: int
      sample: [1, 250, 250, 250, 249]
    batches_run:
      description: How many batches ran.
      type: int
      sample: 5
    stopped:
      description: Why the remaining batches did not run; V(null) when all did.
      type: str
      sample: null
    seconds:
      description: Wall time of the fan-out.
      type: float
      sample: 3.1
    results_left_out:
      description: How many endpoints' results RV(results) leaves out (O(details)).
      type: int
      returned: when some are left out
      sample: 998
    totals:
      description:
        - Sums over every endpoint's result, also those RV(results) leaves out. For an instance-wide O(operation=clear),
          the objects and bytes that left L1 on the endpoints that did not fail, the engines cleared (LMCache inside
          vLLM), and on how many of them the clear froze the stores.
      type: dict
      returned: when O(operation=clear) clears whole instances
      sample: {objects_cleared: 3992, bytes_cleared: 1046478848, engines: 10, engines_froze_stores: 9}
      version_added: 0.2.0
details_file:
  description: The file every endpoint's result was written to (O(details_file), or the file O(details_tmp) made).
  returned: when O(details_file) is set, or O(details_tmp=true)
  type: str
  sample: /srv/reports/lmcache/clear-details.json
failed_hosts:
  description: The endpoints that failed, in order.
  returned: when the options were good
  type: list
  elements: str
  sample: [gpu-02]
'''
