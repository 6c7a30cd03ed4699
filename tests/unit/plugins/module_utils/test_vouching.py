# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The networks setting that vouches for a registry's addresses, and the one reader of a registry that applies it."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import Networks, registry_from

NETWORKS = ['127.0.1.0/24', '::1', 'node-7.fleet.example', '*.gpu.example', 'gpu-*.rack.example']


@pytest.mark.parametrize('address, vouched', [
    ('127.0.1.9', True),
    ('127.0.2.9', False),
    ('::1', True),
    ('::2', False),
    ('node-7.fleet.example', True),
    ('NODE-7.fleet.example.', True),
    ('node-8.fleet.example', False),
    # *. at the start: one or more labels under the name, never the name itself
    ('a.gpu.example', True),
    ('a.b.gpu.example', True),
    ('gpu.example', False),
    ('a.gpu.example.attacker.example', False),
    # any other *: part of one label, never a dot
    ('gpu-12.rack.example', True),
    ('gpu-12.attacker.rack.example', False),
    ('gpu-.rack.example', True),
    # a name is compared as registered, never resolved: a name that would resolve into a block is not in it
    ('localhost', False),
])
def test_networks_vouch_for_the_addresses_they_name_and_no_other(address: str, vouched: bool) -> None:
    assert Networks(NETWORKS).vouches(address) is vouched


@pytest.mark.parametrize('entry', ['10.0.0.0/33', 'a b', 'x_y.example', '', '-gpu.example', 3, None, '10.0.0.0/8/8'])
def test_an_entry_that_is_no_address_block_or_name_is_refused_before_any_request(entry) -> None:
    problems = Networks.problems(['127.0.1.0/24', entry])
    assert len(problems) == 1 and problems[0].startswith('networks entries are CIDR blocks')


def registration(name: str, ip: str, port: int = 8080) -> dict:
    return dict(instance_id=name, ip=ip, http_port=port, registration_time=1.0, metadata={})


def test_without_networks_every_registration_is_kept_and_none_is_vouched_for() -> None:
    registry = registry_from([registration('a', '127.0.1.1'), registration('b', '127.0.2.1')], [], 'http://c', Networks(None))
    assert [(e['instance_id'], e['vouched']) for e in registry.kept] == [('a', False), ('b', False)]
    assert registry.left_out == [] and registry.outside == []
    assert 'no networks setting vouches for it' in registry.key_withheld(registry.kept[0])


def test_with_networks_a_registration_outside_is_left_out_and_named_with_its_address() -> None:
    registry = registry_from([registration('a', '127.0.1.1'), registration('b', '127.0.2.1', 9000)], [], 'http://c',
                             Networks(['127.0.1.0/24']))
    assert [(e['instance_id'], e['vouched'], e['url']) for e in registry.kept] == [('a', True, 'http://127.0.1.1:8080')]
    assert registry.key_withheld(registry.kept[0]) is None
    assert registry.outside == [dict(instance_id='b', url='http://127.0.2.1:9000')]
    assert registry.left_out == ['the coordinator http://c lists the instance b at http://127.0.2.1:9000, which networks '
                                 'does not vouch for']
    assert registry.left_out_ids['b'] == registry.left_out[0]
    # What an inventory cache keeps is before networks: a later networks setting is applied to it anew.
    assert [r['instance_id'] for r in registry.registrations] == ['a', 'b']


def test_an_empty_networks_list_vouches_for_nothing_and_leaves_every_registration_out() -> None:
    registry = registry_from([registration('a', '127.0.1.1')], [], 'http://c', Networks([]))
    assert registry.kept == [] and [o['instance_id'] for o in registry.outside] == ['a']
