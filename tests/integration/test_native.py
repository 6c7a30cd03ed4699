# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What genuine LMCache nodes do per request and per tenant (prefetch, quotas, node-direct deletes), the coordinator
as an inventory with the fan-out on it, and the 0.5.7 line with API keys. Every claim is checked on the servers:
their /status, /quota and the coordinator's /directory/lookup."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import BENCH_MODEL, Fleet, bench_token_ids, http_json

SEQ0 = bench_token_ids(0)
KEY = 'k57-integration-s3cr3t'


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'condition not met within %ss' % timeout
        time.sleep(0.5)


def placements(coordinator, tokens):
    status, reply = http_json('POST', coordinator.url + '/directory/lookup',
                              {'token_ids': tokens, 'model_name': BENCH_MODEL, 'world_size': 1, 'cache_salt': ''})
    assert status == 200, reply
    return [sorted((p['instance_id'], p['tier']) for p in result['placements']) for result in reply['results']]


@pytest.fixture(scope='module')
def native(tmp_path_factory):
    """A 0.5.6 coordinator and node with fs L2 and a serving engine attached (so the node knows the model's layout)."""
    fleet = Fleet(str(tmp_path_factory.mktemp('native')))
    fleet.add_coordinator()
    fleet.add('node-a', '0.5.6')
    fleet.add('node-b', '0.5.6')
    with fleet:
        node = fleet.nodes['node-a']
        node.fill(2)
        node.attach_engine()
        wait_for(lambda: placements(fleet.coordinator, SEQ0) == [[('node-a', 'l1'), ('node-a', 'l2')]] * 2)
        yield fleet


def prefetch_args(fleet, **extra):
    return dict({'url': fleet.nodes['node-a'].url, 'coordinator_url': fleet.coordinator.url, 'model_name': BENCH_MODEL,
                 'token_ids': SEQ0}, **extra)


def test_prefetch_warms_l2_chunks_back_into_l1_then_is_unchanged(native, ansible):
    node = native.nodes['node-a']
    cleared = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url, 'coordinator_url': native.coordinator.url,
                                                      'model_name': BENCH_MODEL, 'token_ids': SEQ0, 'tier': 'l1'})
    assert cleared.result()['changed'] is True, cleared.output
    wait_for(lambda: placements(native.coordinator, SEQ0) == [[('node-a', 'l2')]] * 2)
    objects = node.l1_objects()

    check = ansible.adhoc('lmcache_kvcache_prefetch', prefetch_args(native), '--check')
    assert check.result()['changed'] is True and node.l1_objects() == objects

    run = ansible.adhoc('lmcache_kvcache_prefetch', prefetch_args(native))
    assert run.returncode == 0, run.output
    result = run.result()
    assert result['changed'] is True and result['chunks_warmed'] == [0, 1]
    assert (result['prefetch_status'], result['found_keys'], result['total_keys']) == ('completed', 2, 2)
    assert node.l1_objects() == objects + 2
    assert placements(native.coordinator, SEQ0) == [[('node-a', 'l1'), ('node-a', 'l2')]] * 2

    again = ansible.adhoc('lmcache_kvcache_prefetch', prefetch_args(native))
    assert again.result()['changed'] is False and node.l1_objects() == objects + 2


def test_prefetch_of_a_model_without_an_engine_is_the_nodes_own_503(native, ansible):
    node = native.nodes['node-b']
    run = ansible.adhoc('lmcache_kvcache_prefetch', {'url': node.url, 'model_name': 'no-such-model', 'token_ids': SEQ0,
                                                     'retries': 0})
    assert run.outcome() == 'failed'
    assert 'HTTP 503 Service Unavailable: no layout registered for model_name=' in run.result()['msg']
    assert node.l1_objects() == 0


def test_quota_set_changed_and_removed_read_back_from_the_node(native, ansible):
    node = native.nodes['node-b']

    def quota():
        return http_json('GET', node.url + '/quota/tenant-a')[1]
    set_it = ansible.adhoc('lmcache_quota', {'url': node.url, 'cache_salt': 'tenant-a', 'limit_gb': 0.5}, '--diff')
    assert set_it.result()['changed'] is True and quota()['limit_gb'] == 0.5 and quota()['exists'] is True
    assert ansible.adhoc('lmcache_quota', {'url': node.url, 'cache_salt': 'tenant-a', 'limit_gb': 0.5}).result()['changed'] is False
    changed = ansible.adhoc('lmcache_quota', {'url': node.url, 'cache_salt': 'tenant-a', 'limit_gb': 0.75})
    assert changed.result()['previous_limit_gb'] == 0.5 and quota()['limit_gb'] == 0.75
    info = ansible.adhoc('lmcache_server_info', {'url': node.url}).result()
    assert info['quotas'] == [{'cache_salt': 'tenant-a', 'limit_gb': 0.75, 'current_usage_gb': 0.0}]
    removed = ansible.adhoc('lmcache_quota', {'url': node.url, 'cache_salt': 'tenant-a', 'state': 'absent'}, '--diff')
    assert removed.result()['changed'] is True and quota()['exists'] is False
    assert 'may be evicted' in removed.result()['msg']
    gone = ansible.adhoc('lmcache_quota', {'url': node.url, 'cache_salt': 'unknown-tenant', 'state': 'absent'})
    assert gone.result()['changed'] is False


@pytest.mark.parametrize('limit', [-1, 0, 1e9])
def test_absurd_quotas_change_nothing(native, ansible, limit):
    node = native.nodes['node-b']
    run = ansible.adhoc('lmcache_quota', {'url': node.url, 'cache_salt': 'tenant-z', 'limit_gb': limit})
    assert run.outcome() == 'failed' and 'limit_gb must be greater than 0' in run.result()['msg']
    assert http_json('GET', node.url + '/quota')[1] == {'users': {}}


def test_server_info_reports_adapters_quotas_and_prefetch(native, ansible):
    result = ansible.adhoc('lmcache_server_info', {'url': native.nodes['node-a'].url}).result()
    assert result['l2_adapters'] == [{'index': 0, 'type': 'fs', 'tier': 'l2', 'primary': True}]
    assert result['prefetch_supported'] is True and result['quotas'] == []


def test_a_delete_with_another_models_keys_changes_nothing(native, ansible):
    before = placements(native.coordinator, SEQ0)
    run = ansible.adhoc('lmcache_kvcache_clear', prefetch_args(native, model_name='other-model', tier='all'))
    assert run.result()['changed'] is False and 'Nothing to delete' in run.result()['msg']
    assert placements(native.coordinator, SEQ0) == before


def test_the_coordinator_as_inventory_with_modules_and_the_fan_out_on_it(native, ansible, tmp_path):
    inventory = tmp_path / 'genuine.lmcache.yml'
    inventory.write_text(json.dumps({'plugin': 'lmcache.kvcache.coordinator', 'coordinator_url': native.coordinator.url,
                                     'usage': True}))
    graph = subprocess.run(['ansible-inventory', '-i', str(inventory), '--graph'], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, check=False,
                           env=dict(os.environ, ANSIBLE_INVENTORY_ENABLED='lmcache.kvcache.coordinator'))
    assert '@lmcache:' in graph.stdout and 'node-a' in graph.stdout and 'node-b' in graph.stdout, graph.stdout
    play = tmp_path / 'play.yml'
    play.write_text('''
- hosts: lmcache
  gather_facts: false
  tasks:
    - name: Read each node from its own host
      lmcache.kvcache.lmcache_server_info:
        url: "{{ lmcache_url }}"
    - name: Read every node at once
      lmcache.kvcache.lmcache_fanout:
        operation: server_info
      run_once: true
''')
    run = ansible._run(['ansible-playbook', '-i', str(inventory), str(play)])
    assert run.returncode == 0, run.output
    assert run.result('Read each node from its own host', 'node-a')['url'] == native.nodes['node-a'].url
    fan = run.record('Read every node at once')['result']['results']
    assert fan['node-a']['version'] == '0.5.6-g3e11e108' and fan['node-b']['healthy'] is True


# -- watching the cache: hit counters and the exposure audit ----------------------------------------------------------

def own_counters(node, api_key=None):
    """The node's /metrics counters by metric name, summed over labels: read here without the collection."""
    status, text = http_json('GET', node.url + '/metrics', api_key=api_key)
    assert status == 200
    counters = {}
    for line in text.splitlines():
        if line.startswith('lmcache_mp_') and not line.startswith('#'):
            name = line.split('{')[0].split()[0]
            counters[name] = counters.get(name, 0.0) + float(line.rsplit(' ', 1)[1])
    return counters


def test_hits_are_the_nodes_own_counters_and_the_audit_finds_every_admin_route_open_on_0_5_6(native, ansible):
    node = native.nodes['node-a']
    before, objects = own_counters(node), node.l1_objects()
    run = ansible.adhoc('lmcache_server_info', {'url': node.url, 'audit': True, 'hits_per_tenant': True})
    assert run.returncode == 0, run.output
    result = run.result()
    after = own_counters(node)
    # The audit ran nothing: no counter moved (not even reset), no object left L1. (The eviction loop ticks each second.)
    moved = [name for name in before if name.endswith('_total') and 'ticks' not in name and after.get(name) != before[name]]
    assert moved == [] and node.l1_objects() == objects
    hits = result['hits']
    assert hits['requested_tokens'] == before['lmcache_mp_lookup_requested_tokens_total'] > 0
    assert hits['hit_tokens'] == before['lmcache_mp_lookup_hit_tokens_total'] > 0
    assert hits['hit_tokens_l1'] == before['lmcache_mp_lookup_hit_l1_tokens_total']
    assert hits['lookups'] == before['lmcache_mp_lookups_requests_total']
    assert hits['hit_ratio'] == before['lmcache_mp_lookup_hit_tokens_total'] / before['lmcache_mp_lookup_requested_tokens_total']
    assert [t['model_name'] for t in hits['tenants']] == [BENCH_MODEL]
    exposure = result['exposure']
    assert {'POST /run_script', 'GET /env', 'GET /loglevel', 'POST /metrics/reset', 'POST /cache/clear',
            'DELETE /cache/objects', 'PUT /quota/{cache_salt}'} <= set(exposure['exposed'])
    assert exposure['protected'] == [] and exposure['unclear'] == []


# -- the 0.5.7 line: API keys ------------------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def keyed(tmp_path_factory):
    """Genuine 0.5.7rc3 nodes, with and without an API key, registered with a 0.5.7rc3 coordinator (fs L2)."""
    fleet = Fleet(str(tmp_path_factory.mktemp('keyed')))
    fleet.add_coordinator('0.5.7rc3')
    fleet.add('k57', '0.5.7rc3', api_key=KEY)
    fleet.add('o57', '0.5.7rc3')
    with fleet:
        fleet.nodes['k57'].fill(2)
        fleet.nodes['k57'].attach_engine()
        fleet.nodes['o57'].fill(2)
        wait_for(lambda: placements(fleet.coordinator, SEQ0) == [[('k57', 'l1'), ('k57', 'l2'), ('o57', 'l1'), ('o57', 'l2')]] * 2)
        yield fleet


def keyed_args(fleet, **extra):
    return dict({'url': fleet.nodes['k57'].url, 'coordinator_url': fleet.coordinator.url, 'model_name': BENCH_MODEL,
                 'token_ids': SEQ0}, **extra)


def test_the_audit_finds_a_keyed_0_5_7_node_closed_and_an_unkeyed_one_open(keyed, ansible):
    env = {'LMCACHE_API_KEY': KEY}
    closed = ansible.adhoc('lmcache_server_info', {'url': keyed.nodes['k57'].url, 'audit': True}, env=env).result()
    assert closed['exposure']['exposed'] == [] and closed['exposure']['unclear'] == []
    assert {'POST /run_script', 'GET /env', 'POST /cache/clear', 'DELETE /quota/{cache_salt}'} <= set(closed['exposure']['protected'])
    assert closed['hits']['requested_tokens'] == own_counters(keyed.nodes['k57'], KEY)['lmcache_mp_lookup_requested_tokens_total']
    open_node = ansible.adhoc('lmcache_server_info', {'url': keyed.nodes['o57'].url, 'audit': True}).result()
    assert 'POST /run_script' in open_node['exposure']['exposed'] and open_node['exposure']['protected'] == []


def test_a_keyed_node_without_the_key_says_so(keyed, ansible):
    run = ansible.adhoc('lmcache_server_info', {'url': keyed.nodes['k57'].url})
    assert run.outcome() == 'failed'
    assert run.result()['msg'] == ('GET %s/version failed: HTTP 401 Unauthorized: Invalid or missing API key (the server '
                                   'requires a valid API key: set api_key or LMCACHE_API_KEY)' % keyed.nodes['k57'].url)


def test_every_module_works_on_0_5_7_with_a_key(keyed, ansible):
    node = keyed.nodes['k57']
    env = {'LMCACHE_API_KEY': KEY}
    info = ansible.adhoc('lmcache_server_info', {'url': node.url}, env=env)
    assert info.returncode == 0, info.output
    result = info.result()
    assert (result['version'], result['api_generation'], result['healthy']) == ('0.5.7rc3.dev0-gbf85b41fa', 'G3', True)
    assert result['l1']['objects'] >= 4 and 'prefetch' in result['capabilities']
    assert KEY not in info.output

    chunks = ansible.adhoc('lmcache_kvcache_info', keyed_args(keyed), env=env).result()
    assert chunks['cached_chunks'] == 2
    pinned = ansible.adhoc('lmcache_kvcache_pin', keyed_args(keyed), env=env)
    assert pinned.result()['changed'] is True
    assert ansible.adhoc('lmcache_kvcache_pin', keyed_args(keyed), env=env).result()['changed'] is False
    assert ansible.adhoc('lmcache_kvcache_pin', keyed_args(keyed, state='absent'), env=env).result()['changed'] is True
    quota = ansible.adhoc('lmcache_quota', {'url': node.url, 'cache_salt': 'tenant-k', 'limit_gb': 0.25}, env=env)
    assert quota.result()['changed'] is True
    assert http_json('GET', node.url + '/quota/tenant-k', api_key=KEY)[1]['limit_gb'] == 0.25
    fleet_quota = ansible.adhoc('lmcache_quota', {'coordinator_url': keyed.coordinator.url, 'cache_salt': 'tenant-k',
                                                  'limit_gb': 2}, env=env)
    assert fleet_quota.result()['changed'] is True
    assert http_json('GET', keyed.coordinator.url + '/quota/tenant-k')[1]['quota_limit_gb'] == 2.0

    check = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url}, '--check', env=env)
    assert check.result()['changed'] is True and node.l1_objects() >= 4


def test_a_targeted_clear_of_a_keyed_node_works_with_the_key_and_fails_clearly_without(keyed, ansible):
    node = keyed.nodes['k57']
    through = ansible.adhoc('lmcache_kvcache_clear', keyed_args(keyed, tier='l1', delete_via='coordinator'),
                            env={'LMCACHE_API_KEY': KEY})
    assert through.outcome() == 'failed'
    message = through.result()['msg']
    assert 'HTTP 502' in message and '401 Unauthorized' in message and 'not retried' in message
    assert 'delete on the node itself (delete_via: node, with api_key)' in message
    assert 'after' not in message.split('not retried')[1]  # a 502 showing a downstream 401 is sent once
    assert placements(keyed.coordinator, SEQ0)[0] == [('k57', 'l1'), ('k57', 'l2'), ('o57', 'l1'), ('o57', 'l2')]

    direct = ansible.adhoc('lmcache_kvcache_clear', keyed_args(keyed, tier='l1'), env={'LMCACHE_API_KEY': KEY})
    assert direct.returncode == 0, direct.output
    assert direct.result()['delete_via'] == 'node' and direct.result()['chunks_changed'] == [0, 1]
    wait_for(lambda: placements(keyed.coordinator, SEQ0) == [[('k57', 'l2'), ('o57', 'l1'), ('o57', 'l2')]] * 2)

    warm = ansible.adhoc('lmcache_kvcache_prefetch', keyed_args(keyed), env={'LMCACHE_API_KEY': KEY})
    assert warm.result()['chunks_warmed'] == [0, 1], warm.output


def test_a_node_without_a_key_on_0_5_7_needs_none(keyed, ansible):
    node = keyed.nodes['o57']
    run = ansible.adhoc('lmcache_kvcache_clear', {'url': node.url})
    assert run.returncode == 0, run.output
    assert run.result()['changed'] is True and node.l1_objects() == 0


# -- a key goes only where the operator sent it (a stranger registered with the genuine coordinator) --------------------
# Last in the file: the window clears the keyed fleet's nodes.

@pytest.fixture
def stranger(keyed):
    """The attacker's server (it logs every credential it is sent), registered with the genuine 0.5.7rc3 coordinator,
    which takes a registration from anyone, without a key."""
    from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet
    with SimFleet(nodes=1, coordinator=False, first_address='127.0.2.1', objects=4) as server:
        node = list(server.nodes.values())[0]
        status, answer = http_json('POST', keyed.coordinator.url + '/instances',
                                   {'instance_id': 'stranger', 'ip': node.address, 'http_port': server.port})
        assert status == 200, answer
        yield node
        http_json('DELETE', keyed.coordinator.url + '/instances/stranger')


@pytest.mark.parametrize('networks', [None, ['127.0.0.1/32']])
def test_the_window_from_the_coordinator_sends_the_fleet_key_to_no_registered_stranger(
        keyed, stranger, ansible, tmp_path, networks):
    inventory = tmp_path / 'genuine.lmcache.yml'
    inventory.write_text(json.dumps(dict({'plugin': 'lmcache.kvcache.coordinator', 'coordinator_url': keyed.coordinator.url},
                                         **({'networks': networks} if networks else {}))))
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')
    before = keyed.nodes['k57'].l1_objects()
    run = ansible._run(['ansible-playbook', '-i', str(inventory), playbook, '-e', 'lmcache_fanout=true',
                        '-e', 'lmcache_report_dir=%s' % tmp_path], env={'LMCACHE_API_KEY': KEY})
    assert run.returncode == 0, run.output
    assert stranger.credentials_seen == set() and KEY not in run.output
    report = json.loads((tmp_path / 'before' / 'lmcache-fleet-report.json').read_text())
    rows = dict((row['host'], row) for row in report['hosts'])
    if networks:
        # The fleet's keyed node is read and cleared with the key; the stranger is not in the inventory, never asked.
        assert sorted(rows) == ['k57', 'o57'] and rows['k57']['healthy'] is True and stranger.requests == []
        assert keyed.nodes['k57'].l1_objects() == 0
    else:
        # Without the key: the keyed node is left out, saying which setting to set; the stranger is read, keyless.
        assert sorted(rows) == ['k57', 'o57', 'stranger']
        assert 'HTTP 401' in rows['k57']['error'] and 'url_vouched is false' in rows['k57']['error']
        assert before >= 4 and keyed.nodes['k57'].l1_objects() == before
