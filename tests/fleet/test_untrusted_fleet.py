# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet's data is attacker input (docs/docsite/rst/security.rst): an attacker who controls one registered node,
or who can register one, against the inventory, the fan-out, the window and the reports. Each test checks the
simulated servers or the file system afterwards, not only what the task said."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.lmcache.kvcache.tests.helpers.ansible_run import SERVER_INFO_PLAY

ATTACK_FILE = 'pwned-by-a-registered-node'


def registration(instance_id, ip='127.0.9.9', http_port=8080, **extra):
    return dict({'instance_id': instance_id, 'ip': ip, 'http_port': http_port, 'registration_time': 1795805837.7,
                 'metadata': {}}, **extra)


def inventory(ansible, path, *options):
    """ansible-inventory --list: (exit code, the inventory, the warnings and errors)."""
    environment = dict(os.environ, ANSIBLE_INVENTORY_ENABLED='lmcache.kvcache.coordinator')
    done = subprocess.run(['ansible-inventory', '-i', path, '--list'] + list(options), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=environment, cwd=ansible.workdir, check=False)
    listed = json.loads(done.stdout) if done.returncode == 0 else {}
    return done.returncode, listed, ' '.join(done.stderr.split())


def hosts_of(listed, group='lmcache'):
    return sorted((listed.get(group) or {}).get('hosts') or [])


# -- the inventory: each registration checked on its own ------------------------------------------------------------

@pytest.mark.parametrize('bad, field', [
    (registration(''), 'instances[20].instance_id'),
    (registration('lmcache'), "instances[20].instance_id 'lmcache' is a name Ansible reads as a group"),
    (registration('all'), "instances[20].instance_id 'all' is a name Ansible reads as a group"),
    (registration('localhost'), "instances[20].instance_id 'localhost' is a name Ansible reads as a group"),
    (registration('node-*'), "instances[20].instance_id 'node-*' is not a plain host name"),
    (registration('web:&db'), "instances[20].instance_id 'web:&db' is not a plain host name"),
    (registration('!node-0001'), "instances[20].instance_id '!node-0001' is not a plain host name"),
    (registration("{{ lookup('pipe', 'touch %s') }}" % ATTACK_FILE), 'instances[20].instance_id "{{ lookup('),
    (registration('lmcache_coordinator_x'), "instances[20].instance_id 'lmcache_coordinator_x' has the prefix of this inventory's"),
    (registration('evil', http_port=True), 'instance evil (instances[20]).http_port is a boolean (True), expected a port'),
    (registration('evil', http_port=0), 'instance evil (instances[20]).http_port is a number (0), expected a port'),
    (registration('evil', http_port='8080'), "instance evil (instances[20]).http_port is a string ('8080')"),
    (registration('evil', ip='127.0.0.1/admin?x='), "instance evil (instances[20]).ip '127.0.0.1/admin?x=' is neither"),
    (registration('evil', ip='user@127.0.0.1'), "instance evil (instances[20]).ip 'user@127.0.0.1' is neither"),
    (registration('evil', registration_time='yesterday'), 'instance evil (instances[20]).registration_time is a string'),
    (registration('evil', metadata={'__ansible_type': '_AnsibleTaggedStr', 'value': 'x'}),
     "instance evil (instances[20]).metadata has the key '__ansible_type', which Ansible reserves"),
    (registration('evil', metadata={'a': {'b': {'c': {'d': {'e': {'f': {'g': {'h': {'i': {}}}}}}}}}}),
     'instance evil (instances[20]).metadata.a.b.c.d.e.f.g.h.i is nested more than 8 levels deep'),
    ('not an object', 'instances[20] is not an object'),
])
def test_a_bad_registration_is_left_out_with_a_warning_and_the_others_stay(sim, ansible, bad, field):
    sim.coordinator.registrations.append(bad)
    code, listed, said = inventory(ansible, ansible.coordinator_inventory())
    assert code == 0, said
    assert hosts_of(listed) == sorted(sim.by_name)
    assert 'the coordinator %s, GET /instances: %s' % (sim.coordinator_url, field) in said
    assert 'it is left out of the inventory' in said and said.count('[WARNING]') == 1
    assert not os.path.exists(os.path.join(ansible.workdir, ATTACK_FILE))


@pytest.mark.parametrize('usage, field', [
    ({'instance_id': 'node-0003', 'modules': 5}, 'GET /instances/usage instances[20].modules is not a list'),
    ({'instance_id': 'node-0003', 'modules': [{'tier': 'l1', 'used_bytes': True, 'capacity_bytes': 10}]},
     'GET /instances/usage instances[20].modules[0].used_bytes is a boolean (True), expected a whole number'),
    ({'instance_id': 'node-0003', 'modules': [{'tier': 'l1', 'used_bytes': 'lots', 'capacity_bytes': 10}]},
     "GET /instances/usage instances[20].modules[0].used_bytes is a string ('lots')"),
])
def test_a_bad_usage_entry_leaves_out_its_own_instance_only(sim, ansible, usage, field):
    sim.coordinator.usage_entries.append(usage)
    code, listed, said = inventory(ansible, ansible.coordinator_inventory(usage=True))
    assert code == 0, said
    assert hosts_of(listed) == sorted(set(sim.by_name) - {'node-0003'})
    assert field in said and 'it is left out of the inventory' in said
    assert listed['_meta']['hostvars']['node-0004']['lmcache_usage']['l1']['used_bytes'] == 4 * 4194304


def test_strict_fails_the_parse_naming_the_coordinator_the_instance_and_the_field(sim, ansible):
    sim.coordinator.registrations.append(registration('evil', http_port=True))
    code, listed, said = inventory(ansible, ansible.coordinator_inventory(strict=True))
    assert hosts_of(listed) == [], said
    assert 'the coordinator %s, GET /instances: instance evil (instances[20]).http_port is a boolean (True)' \
        % sim.coordinator_url in said and '(strict: true)' in said


def test_one_id_registered_three_times_at_different_addresses_is_left_out_and_said_so(sim, ansible):
    for address in ('127.0.9.1', '127.0.9.2', '127.0.9.3'):
        sim.coordinator.registrations.append(registration('twin', ip=address))
    sim.coordinator.registrations.append(registration('same', ip='127.0.9.4'))
    sim.coordinator.registrations.append(registration('same', ip='127.0.9.4'))
    code, listed, said = inventory(ansible, ansible.coordinator_inventory())
    assert code == 0, said
    assert hosts_of(listed) == sorted(set(sim.by_name) | {'same'})
    assert ('the coordinator %s lists the instance id twin 3 times at different addresses (127.0.9.1:8080, '
            '127.0.9.2:8080, 127.0.9.3:8080)' % sim.coordinator_url) in said
    assert 'two coordinators' not in said and said.count('[WARNING]') == 1


def test_a_node_named_like_a_keyed_group_is_not_a_host(sim, ansible):
    sim.coordinator.registrations.append(registration('rack_r1'))
    code, listed, said = inventory(ansible, ansible.coordinator_inventory(
        keyed_groups=[{'key': 'lmcache_metadata.rack', 'prefix': 'rack'}]))
    assert code == 0, said
    assert 'rack_r1' not in hosts_of(listed) and 'node-0001' in hosts_of(listed, 'rack_r1')
    assert 'the instance id rack_r1 is also the name of a group of this inventory' in said


SHOW_MODEL = '''
- hosts: plain
  gather_facts: false
  tasks:
    - name: Show the registered model
      ansible.builtin.debug:
        msg: "{{ lmcache_metadata.model }}"
'''


def test_a_template_in_registered_metadata_never_runs_even_from_the_cache(sim, ansible, tmp_path):
    marker = tmp_path / ATTACK_FILE
    template = "{{ lookup('pipe', 'touch %s') }}" % marker
    sim.coordinator.registrations.append(registration('plain', ip='127.0.9.5', metadata={'model': template}))
    sim.coordinator.registrations.append(registration('tagged', ip='127.0.9.6', metadata={'model': {
        '__ansible_type': '_AnsibleTaggedStr', 'value': template, 'tags': [{'__ansible_type': 'TrustedAsTemplate'}]}}))
    cache = tmp_path / 'cache'
    path = ansible.coordinator_inventory(cache=True, cache_plugin='ansible.builtin.jsonfile', cache_connection=str(cache),
                                         cache_timeout=600, compose={'lmcache_model': 'lmcache_metadata.model'},
                                         keyed_groups=[{'key': 'lmcache_metadata.model', 'prefix': 'model'}],
                                         host_variables=['metadata'])
    for _parse in ('from the coordinator', 'from the cache'):
        code, listed, said = inventory(ansible, path)
        assert code == 0, said
        assert 'tagged' not in hosts_of(listed) and 'plain' in hosts_of(listed)
        assert listed['_meta']['hostvars']['plain']['lmcache_model'] in (template, {'__ansible_unsafe': template})
        assert not marker.exists()
    # Used in a play, the host variable is the text, never run.
    run = ansible.run(SHOW_MODEL, {}, '-i', path)
    assert run.returncode == 0, run.output
    assert run.result('Show the registered model', host='plain')['msg'] == template
    assert not marker.exists()
    (name,) = os.listdir(cache)
    with open(os.path.join(cache, name)) as handle:
        raw = handle.read()
    cached = json.loads(json.loads(raw)['__payload__'])
    assert 'tagged' not in [i['instance_id'] for coordinator in cached for i in coordinator['instances']]
    assert 'TrustedAsTemplate' not in raw


@pytest.mark.parametrize('echo', [
    lambda key: {'detail': 'Invalid or missing API key in Authorization: Bearer %s' % key},
    lambda key: {'detail': {'message': 'Invalid key', 'headers': {'Authorization': 'Bearer %s' % key}}},
    lambda key: {'error': 'bad key %s' % key, 'message': key},
])
def test_a_coordinator_error_body_that_echoes_the_key_shows_it_masked(sim, ansible, echo):
    key = 'inventory-s3cr3t-key'
    sim.fault('status', node='coordinator', method='GET', path='/instances', status=401, times=9, body=echo(key))
    code, listed, said = inventory(ansible, ansible.coordinator_inventory(api_key=key, retries=0))
    assert hosts_of(listed) == [] and 'HTTP 401' in said
    assert key not in said and '********' in said


# -- the fan-out and the window: exactly the hosts the play decided on -------------------------------------------------

FAN_OUT_LIST = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Clear the hosts the play decided on
      lmcache.kvcache.lmcache_fanout:
        operation: clear
        hosts: %s
      register: fanned
'''


def test_a_host_in_a_list_is_that_host_even_where_a_group_has_its_name(sim, ansible):
    hosts = ansible.hosts(['node-0000', 'node-0001', 'node-0002'])
    path = ansible.inventory_file(hosts)
    with open(path) as handle:
        data = json.load(handle)
    # A group named like a host (what a registration named like a group made in 0.1.0), holding the other hosts.
    data['all']['children']['node-0000'] = {'hosts': {'node-0001': {}, 'node-0002': {}}}
    with open(path, 'w') as handle:
        json.dump(data, handle)
    play = os.path.join(ansible.workdir, 'play.yml')
    with open(play, 'w') as handle:
        handle.write(FAN_OUT_LIST % '["node-0000"]')
    run = ansible._run(['ansible-playbook', '-i', path, play])
    assert run.returncode == 0, run.output
    assert sorted(run.result('Clear the hosts the play decided on')['results']) == ['node-0000']
    assert [sim.by_name[n].objects for n in ('node-0000', 'node-0001', 'node-0002')] == [0, 4, 4]


def test_hosts_sharing_one_url_are_run_once_with_one_warning_that_names_them(sim, ansible):
    shared = sim.url('node-0000')
    hosts = ansible.hosts(['node-0000', 'node-0001'], **dict(('copy-%d' % n, {'lmcache_url': shared}) for n in range(4)))
    run = ansible.run(FAN_OUT_LIST % 'lmcache', hosts)
    assert run.returncode == 0, run.output
    result = run.result('Clear the hosts the play decided on')
    assert sim.by_name['node-0000'].clears == 1 and sim.by_name['node-0001'].objects == 0
    copies = [n for n, r in result['results'].items() if r.get('duplicate_of')]
    assert len(copies) == 4 and {result['results'][n]['duplicate_of'] for n in copies} == {'node-0000'}
    assert result['summary']['duplicates'] == 4 and result['summary']['not_run'] == 4
    warned = [w for w in result.get('warnings', []) if 'share a URL' in w]
    assert len(warned) == 1 and all(name in warned[0] for name in copies)


def window(ansible, hosts, *options):
    playbook = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'maintenance_window.yml')
    directory = os.path.dirname(playbook)
    with open(playbook) as handle:
        text = (handle.read().replace('vars/lmcache.yml', os.path.join(directory, 'vars', 'lmcache.yml'))
                .replace("'hooks/", "'%s/hooks/" % directory).replace(' tasks/', ' %s/tasks/' % directory))
    return ansible.run(text, hosts, *options)


def test_a_window_with_duplicate_urls_shows_them_in_its_summary(sim, ansible, tmp_path):
    hosts = ansible.hosts(['node-0000', 'node-0001'], **{'node-copy': {'lmcache_url': sim.url('node-0001')}})
    run = window(ansible, hosts, '-e', 'lmcache_fanout=true', '-e', 'lmcache_report_dir=%s' % tmp_path)
    assert run.returncode == 0, run.output
    summary = run.result('Show what the window did on each host')['msg']
    assert any(line.startswith('node-copy') and 'has the same URL as node-0001' in line for line in summary)
    assert 'window: 3 hosts: 2 cleared, 0 unchanged, 0 left out, 0 failed, 1 not run' in summary
    assert sim.by_name['node-0001'].clears == 1


@pytest.mark.parametrize('fanout', ['true', 'false'])
def test_an_optional_route_that_fails_costs_its_field_not_the_hosts_health(sim, ansible, tmp_path, fanout):
    sim.fault('status', path='/config/adapters', status=404, body={'detail': 'Not Found'}, times=1000)
    run = window(ansible, ansible.hosts(['node-%04d' % n for n in range(4)]), '-e', 'lmcache_fanout=%s' % fanout,
                 '-e', 'lmcache_report_dir=%s' % tmp_path)
    assert run.returncode == 0, run.output
    assert [sim.by_name['node-%04d' % n].objects for n in range(4)] == [0, 0, 0, 0]
    report = json.loads((tmp_path / 'before' / 'lmcache-fleet-report.json').read_text())
    assert all(row['healthy'] for row in report['hosts'])
    summary = run.result('Show what the window did on each host', None if fanout == 'true' else 'node-0000')['msg']
    assert 'window: 4 hosts: 4 cleared, 0 unchanged, 0 left out, 0 failed, 0 not run' in summary


def test_server_info_reports_an_unreadable_optional_route_as_null_with_its_reason(sim, ansible):
    sim.fault('status', path='/config/adapters', status=404, body={'detail': 'Not Found'}, times=9)
    run = ansible.run(SERVER_INFO_PLAY, ansible.hosts(['node-0000']))
    assert run.returncode == 0, run.output
    result = run.result('Read')
    assert result['healthy'] is True and result['l2_adapters'] is None and result['l1']['objects'] == 4
    assert 'HTTP 404' in result['unavailable']['l2_adapters'] and '/config/adapters' in result['unavailable']['l2_adapters']
    assert any('l2_adapters is unknown' in w for w in result['warnings'])


@pytest.mark.parametrize('fanout', ['true', 'false'])
def test_a_window_that_would_leave_out_too_many_hosts_fails_before_clearing(sim, ansible, tmp_path, fanout):
    for name in ('node-0001', 'node-0002'):
        sim.by_name[name].starting = True
    run = window(ansible, ansible.hosts(['node-%04d' % n for n in range(4)]), '-e', 'lmcache_fanout=%s' % fanout,
                 '-e', 'lmcache_report_dir=%s' % tmp_path, '-e', 'lmcache_max_left_out=1')
    assert run.returncode != 0
    failed = run.result('Fail when more hosts are left out than lmcache_max_left_out')
    assert '2 of 4 hosts are unreachable or not healthy, more than lmcache_max_left_out (1)' in failed['msg']
    assert 'node-0001, node-0002' in failed['msg']
    assert [sim.by_name['node-%04d' % n].objects for n in range(4)] == [4, 4, 4, 4]
    assert all(node.clears == 0 for node in sim.by_name.values())


def test_a_window_within_its_left_out_limit_goes_on_and_counts_them(sim, ansible, tmp_path):
    sim.by_name['node-0002'].starting = True
    sim.by_name['node-0003'].objects = 0
    run = window(ansible, ansible.hosts(['node-%04d' % n for n in range(4)]), '-e', 'lmcache_fanout=true',
                 '-e', 'lmcache_report_dir=%s' % tmp_path, '-e', 'lmcache_max_left_out=25%')
    assert run.returncode == 0, run.output
    summary = run.result('Show what the window did on each host')['msg']
    assert 'window: 4 hosts: 2 cleared, 1 unchanged, 1 left out, 0 failed, 0 not run' in summary
    closed = run.result('Announce the end of the maintenance window')['msg']
    assert closed == 'LMCache maintenance window closed; window: 4 hosts: 2 cleared, 1 unchanged, 1 left out, 0 failed, 0 not run'


def test_a_window_refuses_a_bad_left_out_limit_before_touching_a_host(sim, ansible, tmp_path):
    run = window(ansible, ansible.hosts(['node-0000']), '-e', 'lmcache_fanout=true', '-e', 'lmcache_max_left_out=lots')
    assert run.returncode != 0
    assert 'lmcache_max_left_out must be a number of hosts (0 or more) or a percentage' in run.output
    assert sim.by_name['node-0000'].objects == 4 and sim.by_name['node-0000'].clears == 0


# -- clears that did not clear ----------------------------------------------------------------------------------------

CLEAR = '''
- hosts: lmcache
  gather_facts: false
  tasks:
    - name: Clear
      lmcache.kvcache.lmcache_kvcache_clear:
        url: "{{ lmcache_url }}"
        force: true
'''


@pytest.mark.parametrize('kept, cleared, changed', [(4, 0, False), (2, 2, True), (0, 4, True)])
@pytest.mark.parametrize('fanout', [False, True])
def test_a_clear_counts_only_what_left_l1(sim, ansible, kept, cleared, changed, fanout):
    node = sim.by_name['node-0000']
    node.kept_on_clear = kept
    if fanout:
        run = ansible.run(FAN_OUT_LIST % 'lmcache', ansible.hosts(['node-0000']))
        result = run.result('Clear the hosts the play decided on')['results']['node-0000']
    else:
        run = ansible.run(CLEAR, ansible.hosts(['node-0000']))
        result = run.result('Clear')
    assert run.returncode == 0, run.output
    assert node.clears == 1 and node.objects == kept
    assert result['objects_cleared'] == cleared and result['bytes_cleared'] == cleared * 4194304
    assert result['changed'] is changed and result['after']['objects'] == kept
    if cleared == 0:
        assert 'Cleared' not in result['msg'] and 'nothing left L1' in result['msg']
    else:
        assert result['msg'].startswith('Cleared %d objects' % cleared)


# -- path segments -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('salt', ['.', '..'])
@pytest.mark.parametrize('where', ['node', 'coordinator'])
def test_a_dot_salt_is_refused_before_any_request(sim, ansible, salt, where):
    node = sim.by_name['node-0000']
    options = {'url': sim.url(node), 'cache_salt': salt, 'limit_gb': 1}
    if where == 'coordinator':
        options['coordinator_url'] = sim.coordinator_url
    run = ansible.run('''
- hosts: lmcache
  gather_facts: false
  tasks:
    - name: Quota
      lmcache.kvcache.lmcache_quota: %s
''' % json.dumps(options), ansible.hosts(['node-0000']))
    assert run.returncode != 0
    assert "and not '.' or '..' (a path segment a proxy resolves to another route), got '%s'" % salt in run.result('Quota')['msg']
    assert node.requests == [] and node.quotas == {} and sim.coordinator.quotas == {}


def test_a_prefetch_id_of_dot_dot_from_a_server_is_never_sent_back(sim, ansible):
    node = sim.by_name['node-0000']
    tokens = [7] + [9906] * 512
    sim.store(node, tokens, tiers=('L2',))
    sim.fault('status', node=node.name, method='POST', path='/cache/prefetches', status=202, times=1,
              body={'request_id': '..', 'chunks': 2, 'status': 'submitted'})
    run = ansible.run('''
- hosts: lmcache
  gather_facts: false
  tasks:
    - name: Warm
      lmcache.kvcache.lmcache_kvcache_prefetch:
        url: "{{ lmcache_url }}"
        model_name: test-model
        token_ids: %s
''' % json.dumps(tokens), ansible.hosts(['node-0000']))
    assert run.returncode != 0
    assert "the request_id the server gave the prefetch '..' cannot be a path segment" in run.result('Warm')['msg']
    assert not [path for method, path in node.requests if method == 'GET' and path.startswith('/cache/prefetches')]


def test_a_node_address_registered_with_a_path_never_gets_the_key(sim, ansible):
    tokens = [8] + [9906] * 512
    sim.store('node-0000', tokens)
    sim.coordinator.registrations.append(registration('evil', ip='127.0.0.1:1/steal?x=', http_port=sim.port))
    run = ansible.run('''
- hosts: lmcache
  gather_facts: false
  tasks:
    - name: Delete on the node
      lmcache.kvcache.lmcache_kvcache_clear:
        url: "{{ lmcache_url }}"
        coordinator_url: %s
        instance_id: evil
        delete_via: node
        api_key: node-key-s3cr3t
        model_name: test-model
        token_ids: %s
''' % (sim.coordinator_url, json.dumps(tokens)), ansible.hosts(['node-0000']))
    assert run.returncode != 0
    assert "instance_id 'evil' is left out, so nothing is sent to it: the coordinator %s, GET /instances: instance evil " \
        "(instances[20]).ip '127.0.0.1:1/steal?x=' is neither an IP address nor a host name" % sim.coordinator_url \
        in run.result('Delete on the node')['msg']
    assert all('node-key-s3cr3t' not in node.credentials_seen for node in sim.nodes.values())
    assert [r for r in sim.by_name['node-0000'].requests if r[0] == 'DELETE'] == []
