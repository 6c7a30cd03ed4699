# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a node's reads cost in round trips, against the simulated fleet: an operation's first reads go out at once,
after its discovery, or with its /version when the fan-out has seen one release only; the results are the same."""

from __future__ import annotations

import json

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import Deadline
from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import DiscoveryCache
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import OPERATIONS
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Context, execute, prepare_args
from ansible_collections.lmcache.kvcache.tests.helpers.round_trips import RoundTrips
from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet


@pytest.fixture
def sim():
    with SimFleet(nodes=0) as fleet:
        for number in range(3):
            fleet.add_node('node-%d' % number, objects=4)
        fleet.add_node('older', version='0.5.0', objects=4)
        yield fleet


def run(name, url, discoveries, **args):
    """One endpoint's result, as the fan-out runs it: its operation with the fan-out's shared discovery cache."""
    entry = OPERATIONS[name]
    prepared = prepare_args(entry.operation, args, entry.for_request, url_options=('coordinator_url',))
    params = dict(prepared.params, url=url, url_vouched=True, api_key=None)
    ctx = Context(params, check_mode=False, diff=False, deadline=Deadline(30), discoveries=discoveries)
    return execute(prepared.operation(params, ctx, prepared.request))


def through_relays(sim, names, operation, discoveries):
    """Each node's result and round trips, one node after the other."""
    outcomes = []
    for name in names:
        relay = RoundTrips(sim.url(name))
        try:
            result = run(operation, relay.url, discoveries)
        finally:
            relay.close()
        outcomes.append((json.loads(json.dumps(result).replace(relay.url, sim.url(name))), relay.count))
    return outcomes


def test_a_fleet_of_one_release_is_read_in_one_round_trip_per_node_after_the_first(sim):
    (first, first_trips), (second, second_trips) = through_relays(sim, ['node-0', 'node-1'], 'server_info', DiscoveryCache())
    # The first: its version, the route list, then every read at once; the next: its version and every read at once.
    assert (first_trips, second_trips) == (3, 1)
    assert second == run('server_info', sim.url('node-1'), None)
    assert second['healthy'] is True and second['l1']['objects'] == 4 and second['hits'] is not None


def test_a_clear_reads_a_node_with_its_version_and_clears_it_once(sim):
    outcomes = through_relays(sim, ['node-0', 'node-1'], 'clear', DiscoveryCache())
    # Version, route list, status, the clear, status; then: version and status at once, the clear, status.
    assert [trips for _result, trips in outcomes] == [5, 3]
    for result, _trips in outcomes:
        assert result['changed'] is True and result['objects_cleared'] == 4, result
    assert [sim.by_name[name].objects for name in ('node-0', 'node-1')] == [0, 0]
    assert [request for request in sim.by_name['node-1'].requests if request[0] != 'GET'] == [('POST', '/cache/clear')]


def test_a_node_of_another_release_than_the_guess_is_read_as_its_own(sim):
    discoveries = DiscoveryCache()
    through_relays(sim, ['node-0'], 'server_info', discoveries)
    ((older, _trips),) = through_relays(sim, ['older'], 'server_info', discoveries)
    assert older == run('server_info', sim.url('older'), None)
    assert (older['api_generation'], older['version'], older['l1']['objects']) == ('G2', '0.5.0-g389b9cfc', 4)
