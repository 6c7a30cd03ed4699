# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the lmcache.kvcache.fleet event source reads from a simulated fleet through a coordinator: registrations,
health, L1 usage; a key that is never in an event; a coordinator that cannot be read."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._watch import FleetState, FleetWatch, WatchError
from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet

KEY = 'watch-s3cr3t-key'


def kinds(events):
    return sorted((e['lmcache']['type'], e['lmcache'].get('instance_id')) for e in events)


def test_a_watch_through_the_coordinator_reports_each_change_once(sim):
    sim.by_name['node-0002'].objects = 250  # 1,000 MB of 1 GiB: over the 0.8 watermark
    watch = FleetWatch(dict(retries=0, deadline=10), [], [sim.coordinator_url], FleetState())
    first = watch.poll()
    assert kinds(first) == [('l1_usage_high', 'node-0002')]
    assert first[0]['lmcache']['url'] == sim.url('node-0002')
    assert watch.poll() == []
    sim.add_node('node-new', objects=1)
    sim.by_name['node-0005'].starting = True
    sim.by_name['node-0002'].objects = 0
    second = watch.poll()
    assert kinds(second) == [('l1_usage_normal', 'node-0002'), ('registered', 'node-new'), ('unhealthy', 'node-0005')]
    assert [e['lmcache']['reason'] for e in second if e['lmcache']['type'] == 'unhealthy'] == ['engine not initialized']
    assert watch.poll() == []


def test_a_keyed_node_is_read_with_the_key_which_no_event_carries(sim):
    keyed = sim.add_node('keyed', api_key=KEY, objects=250)
    watch = FleetWatch(dict(retries=0, deadline=10, api_key=KEY), [sim.url(keyed)], [], FleetState())
    events = watch.poll()
    assert kinds(events) == [('l1_usage_high', None)] and KEY not in repr(events)
    blind = FleetWatch(dict(retries=0, deadline=10), [sim.url(keyed)], [], FleetState()).poll()
    assert kinds(blind) == [('unhealthy', None)] and 'HTTP 401' in blind[0]['lmcache']['reason']


def test_a_coordinator_that_cannot_be_read_skips_the_poll_with_its_reason():
    watch = FleetWatch(dict(retries=0, deadline=5), [], ['http://127.0.0.1:9'], FleetState())
    with pytest.raises(WatchError, match='cannot connect to http://127.0.0.1:9'):
        watch.poll()


def test_the_coordinators_are_read_at_once_and_a_failure_named_in_their_order():
    with SimFleet(nodes=6, objects=250, coordinators=3) as fleet:
        urls = ['http://127.0.0.1:%d' % port for port in fleet.coordinator_ports]
        # Each coordinator's list is answered only while the three wait at once: read one after another, none is.
        fleet.fault('together', node='coordinator', method='GET', path='/instances', parties=3, times=3)
        events = FleetWatch(dict(retries=0, deadline=30), [], urls, FleetState()).poll()
        assert kinds(events) == [('l1_usage_high', 'node-%04d' % number) for number in range(6)]
        # Two that cannot be read: the poll names the first in the order given, whichever failed first.
        watch = FleetWatch(dict(retries=0, deadline=10), [], [urls[0], 'http://127.0.0.1:9', urls[1] + '/nope'], FleetState())
        with pytest.raises(WatchError, match='cannot connect to http://127.0.0.1:9'):
            watch.poll()
