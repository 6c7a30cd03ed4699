# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lookups and lmcache_coordinator_info against the simulated fleet: the module's results, options, messages and
masking, and the coordinator's registrations checked as the inventory checks them."""

from __future__ import annotations

import json

KEY = 'lookup-s3cr3t-key'

LOOKUPS = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read a node
      ansible.builtin.set_fact:
        info: "{{ lookup('lmcache.kvcache.server_info', node_url, audit=true) }}"

    - name: Read a keyed node with its key
      ansible.builtin.set_fact:
        keyed: "{{ lookup('lmcache.kvcache.server_info', keyed_url, api_key=key) }}"

    - name: List the coordinator's instances
      ansible.builtin.set_fact:
        instances: "{{ query('lmcache.kvcache.coordinator_instances', coordinator_url, usage=true) }}"

    - name: Read a keyed node without its key
      ansible.builtin.set_fact:
        refused: "{{ lookup('lmcache.kvcache.server_info', keyed_url, retries=0) }}"
      ignore_errors: true

    - name: Refuse a bad option before any request
      ansible.builtin.set_fact:
        bad: "{{ lookup('lmcache.kvcache.server_info', node_url, timeout=-1, api_key=key) }}"
      ignore_errors: true
'''


def test_the_lookups_return_what_the_modules_do_with_their_checks_and_masking(sim, ansible):
    keyed = sim.add_node('keyed', api_key=KEY, objects=2)
    sim.by_name['node-0003'].counters.update(requested_tokens=2048, hit_tokens=512)
    sim.coordinator.registrations.append({'instance_id': "{{ lookup('pipe', 'id') }}", 'ip': '127.0.0.1', 'http_port': 1})
    run = ansible.run(LOOKUPS, {}, '-e', 'node_url=%s' % sim.url('node-0003'), '-e', 'keyed_url=%s' % sim.url(keyed),
                      '-e', 'coordinator_url=%s' % sim.coordinator_url, '-e', 'key=%s' % KEY)
    info = run.result('Read a node')['ansible_facts']['info']
    assert info['healthy'] is True and info['l1']['objects'] == 4 and info['hits']['hit_ratio'] == 0.25
    assert 'POST /run_script' in info['exposure']['exposed'] and 'changed' not in info
    assert run.result('Read a keyed node with its key')['ansible_facts']['keyed']['l1']['objects'] == 2
    listed = run.result("List the coordinator's instances")
    assert 'ansible_facts' in listed, listed
    instances = listed['ansible_facts']['instances']
    assert sorted(i['instance_id'] for i in instances) == sorted(sim.by_name)
    by_id = dict((i['instance_id'], i) for i in instances)
    assert by_id['node-0003']['url'] == sim.url('node-0003') and by_id['node-0003']['usage']['l1']['used_bytes'] == 4 * 4194304
    assert 'is not a plain host name' in run.output, run.output
    refused = run.result('Read a keyed node without its key')
    assert run.outcome('Read a keyed node without its key') == 'failed'
    assert 'HTTP 401 Unauthorized' in refused['msg'] and 'set api_key or LMCACHE_API_KEY' in refused['msg']
    bad = run.result('Refuse a bad option before any request')
    assert run.outcome('Refuse a bad option before any request') == 'failed' and 'timeout must be greater than 0' in bad['msg']
    assert KEY not in run.output.replace('key=%s' % KEY, '')
    assert sim.by_name['node-0003'].requests.count(('GET', '/healthcheck')) == 1


def test_coordinator_info_lists_the_checked_registrations_and_names_the_rest(sim, ansible):
    sim.coordinator.registrations.append({'instance_id': 'evil', 'ip': 'user@127.0.0.1', 'http_port': 8080})
    run = ansible.adhoc('lmcache_coordinator_info', {'url': sim.coordinator_url})
    assert run.returncode == 0, run.output
    result = run.result()
    assert len(result['instances']) == 20 and result['changed'] is False
    assert result['left_out'] == ["the coordinator %s, GET /instances: instance evil (instances[20]).ip 'user@127.0.0.1' "
                                  "is neither an IP address nor a host name" % sim.coordinator_url]
    assert result['msg'] == ('20 instances are registered with the coordinator %s; 1 left out, see the warnings.'
                             % sim.coordinator_url)
    fanned = ansible.adhoc('lmcache_fanout', {'operation': 'coordinator_info', 'hosts': ['x']})
    assert fanned.outcome() == 'failed' and 'value of operation must be one of' in fanned.result()['msg']


MANY = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read three nodes
      ansible.builtin.set_fact:
        infos: "{{ query('lmcache.kvcache.server_info', *urls, retries=0) }}"

    - name: Refuse a term that is no URL before any request
      ansible.builtin.set_fact:
        bad: "{{ query('lmcache.kvcache.server_info', urls[0], 5) }}"
      ignore_errors: true

    - name: Name the first term that cannot be read
      ansible.builtin.set_fact:
        down: "{{ query('lmcache.kvcache.server_info', urls[0], 'http://127.0.0.1:9', keyed_url, retries=0) }}"
      ignore_errors: true
'''


def test_a_lookup_reads_its_terms_at_once_and_names_the_first_failure_in_their_order(sim, ansible):
    names = ['node-0001', 'node-0002', 'node-0003']
    keyed = sim.add_node('keyed', api_key=KEY, objects=2)
    # Each node's first request is answered only while the three wait at once: read one after another, none is.
    sim.fault('together', method='GET', path='/version', parties=3, times=3)
    run = ansible.run(MANY, {}, '-e', json.dumps(dict(urls=[sim.url(name) for name in names], keyed_url=sim.url(keyed))))
    infos = run.result('Read three nodes')['ansible_facts']['infos']
    assert [info['url'] for info in infos] == [sim.url(name) for name in names]
    assert all(info['healthy'] for info in infos)
    assert run.outcome('Refuse a term that is no URL before any request') == 'failed'
    assert 'each term is a URL, got int' in run.result('Refuse a term that is no URL before any request')['msg']
    down = run.result('Name the first term that cannot be read')
    assert 'cannot connect to http://127.0.0.1:9' in down['msg'] and '401' not in down['msg']
    # The term that is no URL stopped the lookup before any request: the first node was read twice, not three times.
    assert sim.by_name['node-0001'].requests.count(('GET', '/status')) == 2
