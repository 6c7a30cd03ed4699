# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A key goes only where the operator sent it. Anyone can register with a coordinator (POST /instances takes no key):
an attacker registers a server of their own, the stranger, next to the fleet's keyed nodes, and the operator runs the
collection with LMCACHE_API_KEY set. Every test checks, on the simulated servers, which requests arrived with which
credentials, or the coordinator's registry, afterwards.

The fleet's nodes are on 127.0.1.0/24 (the networks the operator vouches for); the stranger on 127.0.2.0/24; a proxy
on 127.0.3.0/24: local addresses only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

import pytest

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import FleetState, FleetWatch
from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet

KEY = 'fleet-key-s3cr3t'
FLEET = '127.0.1.0/24'
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
TOKENS = [5] + [9906] * 512


@pytest.fixture
def stranger() -> t.Iterator[SimFleet]:
    """The attacker's server, on an address of its own; it registers with the fleet's coordinator."""
    with SimFleet(nodes=1, coordinator=False, first_address='127.0.2.1', objects=4) as fleet:
        yield fleet


@pytest.fixture
def keyed(sim: SimFleet, stranger: SimFleet) -> t.List[t.Any]:
    """Two keyed nodes in the fleet, and the stranger registered beside them."""
    nodes = [sim.add_node('keyed-%d' % n, objects=4, api_key=KEY) for n in range(2)]
    sim.coordinator.registrations.append(dict(instance_id='stranger', ip=list(stranger.nodes.values())[0].address,
                                              http_port=stranger.port, registration_time=1.0, metadata={}))
    return nodes


def the_stranger(stranger: SimFleet) -> t.Any:
    return list(stranger.nodes.values())[0]


def everyone(sim: SimFleet, stranger: SimFleet) -> t.List[t.Any]:
    return list(sim.nodes.values()) + list(stranger.nodes.values())


def playbook(ansible: t.Any, path: str, inventory: str, *options: str, env: t.Optional[t.Dict[str, str]] = None) -> t.Any:
    return ansible._run(['ansible-playbook', '-i', inventory, path] + list(options), env)


def play(ansible: t.Any, text: str, inventory: str, *options: str, env: t.Optional[t.Dict[str, str]] = None) -> t.Any:
    path = os.path.join(ansible.workdir, 'play-%d.yml' % (ansible.runs + 1))
    with open(path, 'w') as handle:
        handle.write(text)
    return playbook(ansible, path, inventory, *options, env=env)


def window(ansible: t.Any, inventory: str, report_dir: t.Any, fanout: str) -> t.Any:
    return playbook(ansible, os.path.join(ROOT, 'playbooks', 'maintenance_window.yml'), inventory,
                    '-e', 'lmcache_fanout=%s' % fanout, '-e', 'lmcache_report_dir=%s' % report_dir,
                    env={'LMCACHE_API_KEY': KEY})


# -- the maintenance window, both ways ------------------------------------------------------------------------------

@pytest.mark.parametrize('fanout', ['true', 'false'])
def test_without_networks_the_window_sends_the_fleet_key_to_no_registered_address(
        sim, stranger, keyed, ansible, tmp_path, fanout):
    run = window(ansible, ansible.coordinator_inventory(), tmp_path, fanout)
    assert 'window: 23 hosts: 21 cleared, 0 unchanged, 2 left out, 0 failed, 0 not run' in run.output
    assert all(KEY not in ' '.join(node.credentials_seen) for node in everyone(sim, stranger))
    # The unkeyed nodes are cleared as before; the keyed ones are left out, saying which setting to set.
    assert all(node.objects == 0 for name, node in sim.by_name.items() if not name.startswith('keyed'))
    assert [node.objects for node in keyed] == [4, 4]
    report = json.loads((tmp_path / 'before' / 'lmcache-fleet-report.json').read_text())
    errors = dict((row['host'], row['error']) for row in report['hosts'] if row['error'])
    assert sorted(errors) == ['keyed-0', 'keyed-1']
    assert 'HTTP 401' in errors['keyed-0'] and 'which was not sent: url_vouched is false' in errors['keyed-0'] \
        and 'Set networks where the registry is read' in errors['keyed-0']
    assert KEY not in run.output


@pytest.mark.parametrize('fanout', ['true', 'false'])
def test_with_networks_the_fleet_gets_the_key_and_the_stranger_no_request_at_all(
        sim, stranger, keyed, ansible, tmp_path, fanout):
    run = window(ansible, ansible.coordinator_inventory(networks=[FLEET]), tmp_path, fanout)
    assert run.returncode == 0, run.output
    assert 'window: 22 hosts: 22 cleared, 0 unchanged, 0 left out, 0 failed, 0 not run' in run.output
    assert [node.objects for node in keyed] == [0, 0]
    assert all(node.credentials_seen == {'Bearer %s' % KEY} for node in keyed)
    assert the_stranger(stranger).requests == []
    said = ' '.join(run.output.split())
    assert 'the coordinator %s lists the instance stranger at %s, which networks does not vouch for; it is left out of ' \
           'the inventory' % (sim.coordinator_url, stranger.url(the_stranger(stranger))) in said


def test_strict_fails_the_inventory_on_a_registration_outside_networks_and_reads_no_node(sim, stranger, keyed, ansible):
    done = subprocess.run(['ansible-inventory', '-i', ansible.coordinator_inventory(networks=[FLEET], strict=True), '--list'],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, cwd=ansible.workdir,
                          env=dict(os.environ, ANSIBLE_INVENTORY_ENABLED='lmcache.kvcache.coordinator',
                                   ANSIBLE_INVENTORY_UNPARSED_FAILED='true'), check=False)
    assert done.returncode != 0
    assert 'lists the instance stranger at' in done.stderr and '(strict: true)' in ' '.join(done.stderr.split())
    assert all(node.requests == [] for node in everyone(sim, stranger))


def test_networks_from_the_environment_vouch_as_the_option_does(sim, stranger, keyed, ansible, tmp_path):
    run = play(ansible, READ_KEYED, ansible.coordinator_inventory(), env={'LMCACHE_API_KEY': KEY, 'LMCACHE_NETWORKS': FLEET})
    assert run.returncode == 0, run.output
    assert all(node.credentials_seen == {'Bearer %s' % KEY} for node in keyed)
    assert the_stranger(stranger).requests == []


# -- the per-host path on a coordinator inventory --------------------------------------------------------------------

READ_KEYED = '''
- hosts: keyed-*
  gather_facts: false
  module_defaults:
    group/lmcache.kvcache.lmcache:
      url: "{{ lmcache_url }}"
      api_key: "%s"
  tasks:
    - name: Read
      lmcache.kvcache.lmcache_server_info:
''' % KEY


def test_a_module_task_on_an_unvouched_host_sends_no_key_whatever_module_defaults_say(sim, stranger, keyed, ansible):
    run = play(ansible, READ_KEYED, ansible.coordinator_inventory())
    assert run.returncode != 0
    message = run.result('Read', 'keyed-0')['msg']
    assert 'HTTP 401' in message and 'url_vouched is false' in message and 'Set networks where the registry is read' in message
    assert all(node.credentials_seen == set() for node in keyed)
    assert KEY not in json.dumps(run.records)


def test_a_task_that_says_url_vouched_true_is_the_operators_word(sim, stranger, keyed, ansible):
    run = play(ansible, READ_KEYED.replace('api_key:', 'url_vouched: true\n      api_key:'), ansible.coordinator_inventory())
    assert run.returncode == 0, run.output
    assert all(node.credentials_seen == {'Bearer %s' % KEY} for node in keyed)


def test_a_url_the_task_writes_itself_is_vouched_for_on_an_unvouched_host(sim, stranger, keyed, ansible):
    url = sim.url(keyed[0])
    run = play(ansible, READ_KEYED.replace('"{{ lmcache_url }}"', url).replace('keyed-*', 'keyed-1'), ansible.coordinator_inventory())
    assert run.returncode == 0, run.output
    # keyed-1's task reads keyed-0, a URL the operator wrote: the key goes there; keyed-1's own URL is not read.
    assert keyed[0].credentials_seen == {'Bearer %s' % KEY} and keyed[1].requests == []


# -- the modules and the lookup that read a registry -----------------------------------------------------------------

def test_coordinator_info_says_which_instances_are_vouched_for_and_which_are_outside(sim, stranger, keyed, ansible):
    run = ansible.adhoc('lmcache_coordinator_info', dict(url=sim.coordinator_url, networks=[FLEET]))
    assert run.returncode == 0, run.output
    result = run.result()
    assert {i['instance_id'] for i in result['instances']} == set(sim.by_name)
    assert all(i['vouched'] is True for i in result['instances'])
    assert result['outside'] == [dict(instance_id='stranger', url=stranger.url(the_stranger(stranger)))]
    assert the_stranger(stranger).requests == []


LOOKUP = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Look up
      ansible.builtin.set_fact:
        found: "{{ query('lmcache.kvcache.coordinator_instances', '%s', networks=['%s'], strict=%s) }}"
'''


@pytest.mark.parametrize('strict', [False, True])
def test_the_lookup_leaves_out_a_registration_outside_networks_or_fails_on_it(sim, stranger, keyed, ansible, strict):
    run = ansible.run(LOOKUP % (sim.coordinator_url, FLEET, strict), {})
    said = ' '.join(run.output.split())
    assert 'lists the instance stranger at %s, which networks does not vouch for' % stranger.url(the_stranger(stranger)) in said
    if strict:
        assert run.returncode != 0 and '(strict: true)' in said
    else:
        assert run.returncode == 0, run.output
        assert sorted(i['instance_id'] for i in run.result('Look up')['ansible_facts']['found']) == sorted(sim.by_name)
    assert the_stranger(stranger).requests == []


TARGETED = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Targeted clear
      lmcache.kvcache.lmcache_kvcache_clear:
        url: %(url)s
        coordinator_url: %(coordinator)s
        instance_id: %(instance)s
        delete_via: node
        tier: l1
        api_key: %(key)s
        model_name: test-model
        token_ids: %(tokens)s
%(networks)s
'''


def targeted(sim: SimFleet, instance: str, networks: t.Optional[t.List[str]] = None) -> str:
    return TARGETED % dict(url=sim.url('node-0000'), coordinator=sim.coordinator_url, instance=instance, key=KEY,
                           tokens=json.dumps(TOKENS), networks='        networks: %s' % json.dumps(networks) if networks else '')


def test_a_targeted_clear_sends_no_key_to_an_instances_registered_address_without_networks(sim, stranger, keyed, ansible):
    sim.store(keyed[0], TOKENS)
    run = ansible.run(targeted(sim, 'keyed-0'), {})
    assert run.returncode != 0
    message = run.result('Targeted clear')['msg']
    assert message.startswith('GET %s/version failed: HTTP 401' % sim.url(keyed[0]))
    assert 'its address came from the registry of the coordinator %s, and no networks setting vouches for it' \
        % sim.coordinator_url in message
    assert keyed[0].credentials_seen == set() and len(keyed[0].tiers['L1']) == 2


def test_a_targeted_clear_with_networks_sends_the_key_to_the_vouched_instance(sim, stranger, keyed, ansible):
    sim.store(keyed[0], TOKENS)
    run = ansible.run(targeted(sim, 'keyed-0', [FLEET]), {})
    assert run.returncode == 0, run.output
    assert keyed[0].credentials_seen == {'Bearer %s' % KEY} and len(keyed[0].tiers['L1']) == 0


def test_an_instance_outside_networks_is_refused_before_any_request_to_its_address(sim, stranger, keyed, ansible):
    run = ansible.run(targeted(sim, 'stranger', [FLEET]), {})
    assert run.returncode != 0
    assert "instance_id 'stranger' is left out, so nothing is sent to it: the coordinator %s lists the instance stranger" \
        % sim.coordinator_url in run.result('Targeted clear')['msg']
    assert the_stranger(stranger).requests == []


# -- the fan-out: the operator's endpoints, the task's environment, proxies ------------------------------------------

FANOUT = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Fan out
      lmcache.kvcache.lmcache_fanout: %s
      environment: %s
'''


def test_endpoints_the_operator_writes_are_sent_the_key(sim, stranger, keyed, ansible):
    args = dict(operation='server_info', endpoints=[sim.url(node) for node in keyed], api_key=KEY)
    run = ansible.run(FANOUT % (json.dumps(args), '{}'), {})
    assert run.returncode == 0, run.output
    assert all(node.credentials_seen == {'Bearer %s' % KEY} for node in keyed)


@pytest.fixture
def proxy() -> t.Iterator[SimFleet]:
    """A server that answers whatever reaches it, on its own address: where a request went through a proxy, its log
    shows it, and the node meant sees nothing."""
    with SimFleet(nodes=1, coordinator=False, first_address='127.0.3.1', objects=0) as fleet:
        yield fleet


@pytest.fixture
def unspecified() -> t.Iterator[t.Tuple[str, t.Any]]:
    """A node reached as http://0.0.0.0:PORT: this machine, but not a loopback address, so that proxies apply to it."""
    with SimFleet(nodes=1, coordinator=False, first_address='127.0.0.1', objects=0) as fleet:
        yield 'http://0.0.0.0:%d' % fleet.port, list(fleet.nodes.values())[0]


def through(proxy: SimFleet) -> t.List[t.Tuple[str, str]]:
    return list(proxy.nodes.values())[0].requests


@pytest.mark.parametrize('no_proxy, proxied', [('', True), ('localhost,0.0.0.0/8', False), ('0.0.0.0:1', True),
                                               ('*', False)])
def test_the_tasks_environment_sends_the_fan_out_and_the_module_the_same_way(unspecified, proxy, ansible, no_proxy, proxied):
    url, node = unspecified
    environment = json.dumps({'http_proxy': proxy.url(list(proxy.nodes.values())[0]), 'no_proxy': no_proxy})
    fanned = ansible.run(FANOUT % (json.dumps(dict(operation='server_info', endpoints=[url])), environment), {})
    assert fanned.returncode == 0, fanned.output
    by_fanout = (len(through(proxy)), len(node.requests))
    module = ansible.run('''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Read
      lmcache.kvcache.lmcache_server_info:
        url: %s
      environment: %s
''' % (url, environment), {})
    assert module.returncode == 0, module.output
    by_module = (len(through(proxy)) - by_fanout[0], len(node.requests) - by_fanout[1])
    assert by_fanout == by_module
    assert (by_fanout[0] > 0, by_fanout[1] == 0) == (proxied, proxied)


def test_an_https_proxy_fails_the_fan_out_before_any_request(unspecified, proxy, ansible):
    url, node = unspecified
    environment = json.dumps({'http_proxy': 'https://127.0.3.1:%d' % proxy.port})
    run = ansible.run(FANOUT % (json.dumps(dict(operation='clear', endpoints=[url])), environment), {})
    assert run.returncode != 0
    result = run.result('Fan out')
    assert result['summary']['failed'] == 1
    assert 'http_proxy names the proxy https://127.0.3.1:%d, which this client cannot use' % proxy.port \
        in result['results'][url]['msg']
    assert through(proxy) == [] and node.requests == []


# -- the event source ------------------------------------------------------------------------------------------------

def test_the_event_source_sends_no_key_to_registered_nodes_without_networks(sim, stranger, keyed):
    events = FleetWatch(dict(retries=0, deadline=10, api_key=KEY), [], [sim.coordinator_url], FleetState()).poll()
    unhealthy = dict((e['lmcache']['instance_id'], e['lmcache']) for e in events if e['lmcache']['type'] == 'unhealthy')
    assert sorted(unhealthy) == ['keyed-0', 'keyed-1']
    assert 'url_vouched is false: this address came from a coordinator' in unhealthy['keyed-0']['reason']
    assert unhealthy['keyed-0']['vouched'] is False
    assert all(KEY not in ' '.join(node.credentials_seen) for node in everyone(sim, stranger))
    assert KEY not in repr(events)


def test_the_event_source_with_networks_names_a_stranger_once_and_never_reads_it(sim, stranger, keyed):
    watch = FleetWatch(dict(retries=0, deadline=10, api_key=KEY, networks=[FLEET]), [], [sim.coordinator_url], FleetState())
    first = watch.poll()
    outside = [e['lmcache'] for e in first if e['lmcache']['type'] == 'registration_outside']
    assert outside == [dict(type='registration_outside', coordinator_url=sim.coordinator_url, instance_id='stranger',
                            url=stranger.url(the_stranger(stranger)))]
    assert not [e for e in first if e['lmcache']['type'] == 'unhealthy']
    assert [e for e in watch.poll() if e['lmcache']['type'] == 'registration_outside'] == []
    assert all(node.credentials_seen == {'Bearer %s' % KEY} for node in keyed)
    assert the_stranger(stranger).requests == []


# -- taking a stranger off the registry ------------------------------------------------------------------------------

def test_deregistration_is_checked_applied_and_idempotent_on_the_registry(sim, stranger, keyed, ansible):
    args = dict(url=sim.coordinator_url, instance_id='stranger', networks=[FLEET])
    checked = ansible.adhoc('lmcache_coordinator_instance', args, '--check', '--diff')
    assert checked.returncode == 0 and checked.result()['changed'] is True
    assert [r['instance_id'] for r in sim.coordinator.registrations] == ['stranger'] and sim.coordinator.deletes == []
    done = ansible.adhoc('lmcache_coordinator_instance', args, '--diff')
    assert done.result()['changed'] is True and done.result()['diff']['before']['registered'] is True
    assert sim.coordinator.registrations == [] and sim.coordinator.deletes == ['stranger']
    again = ansible.adhoc('lmcache_coordinator_instance', args)
    assert again.result()['changed'] is False and sim.coordinator.deletes == ['stranger']
    assert the_stranger(stranger).requests == []


def test_an_instance_inside_networks_is_kept_and_a_malformed_registration_can_be_taken_off(sim, ansible):
    sim.coordinator.registrations.append(dict(instance_id='broken', ip='127.0.1.9/steal', http_port=8080))
    kept = ansible.adhoc('lmcache_coordinator_instance', dict(url=sim.coordinator_url, instance_id='node-0001',
                                                              networks=[FLEET]))
    assert kept.result()['changed'] is False and kept.result()['kept_vouched'] is True and sim.coordinator.deletes == []
    gone = ansible.adhoc('lmcache_coordinator_instance', dict(url=sim.coordinator_url, instance_id='broken', networks=[FLEET]))
    assert gone.result()['changed'] is True and sim.coordinator.deletes == ['broken'] and sim.coordinator.registrations == []


# -- where a key comes from on a remote host ------------------------------------------------------------------------

REMOTE_READ = '''
- hosts: keyed-0
  gather_facts: false
  tasks:
    - name: Read
      lmcache.kvcache.lmcache_server_info:
        url: %s
%s
'''


@pytest.mark.parametrize('how, sent', [('', False), ("        api_key: \"{{ lookup('ansible.builtin.env', 'LMCACHE_API_KEY') }}\"", True)])
def test_a_module_on_another_host_reads_that_hosts_environment_not_the_controllers(sim, keyed, ansible, how, sent):
    # A module process with an empty environment, as over SSH: the controller's LMCACHE_API_KEY does not reach it.
    bare = os.path.join(ansible.workdir, 'python-without-environment')
    with open(bare, 'w') as handle:
        handle.write('#!/bin/sh\nexec /usr/bin/env -i %s "$@"\n' % sys.executable)
    os.chmod(bare, 0o755)
    hosts = {'keyed-0': {'ansible_python_interpreter': bare}}
    run = ansible.run(REMOTE_READ % (sim.url(keyed[0]), how), hosts, env={'LMCACHE_API_KEY': KEY})
    assert (run.returncode == 0) is sent, run.output
    assert keyed[0].credentials_seen == ({'Bearer %s' % KEY} if sent else set())
    if not sent:
        assert 'HTTP 401' in run.result('Read')['msg'] and 'set api_key or LMCACHE_API_KEY' in run.result('Read')['msg']
