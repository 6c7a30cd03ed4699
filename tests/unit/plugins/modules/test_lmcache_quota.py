# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache_quota on the simulated fleet; every claim is checked on the node's own quota table."""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_quota


def quota(sim, **args):
    return dict(dict(url=sim.url('node-0000'), cache_salt='tenant-a'), **args)


def test_set_change_and_remove_a_quota_idempotently(sim, run_module):
    node = sim.by_name['node-0000']
    first = run_module(lmcache_quota, quota(sim, limit_gb=0.5), diff=True)
    assert first['changed'] is True and node.quotas == {'tenant-a': 0.5}
    assert first['quota'] == {'cache_salt': 'tenant-a', 'limit_gb': 0.5, 'current_usage_gb': 0.0}
    assert first['diff'] == {'before': {'quota': {}}, 'after': {'quota': {'tenant-a': 0.5}}}
    assert run_module(lmcache_quota, quota(sim, limit_gb=0.5))['changed'] is False
    changed = run_module(lmcache_quota, quota(sim, limit_gb=2))
    assert changed['changed'] is True and changed['previous_limit_gb'] == 0.5 and node.quotas == {'tenant-a': 2.0}
    removed = run_module(lmcache_quota, quota(sim, state='absent'), diff=True)
    assert removed['changed'] is True and node.quotas == {} and removed['quota'] is None
    assert 'may be evicted' in removed['msg'] and 'evicted' in removed['diff']['after_header']
    assert run_module(lmcache_quota, quota(sim, state='absent'))['changed'] is False


def test_check_mode_changes_no_quota(sim, run_module):
    result = run_module(lmcache_quota, quota(sim, limit_gb=1), check_mode=True)
    assert result['changed'] is True and result['msg'].startswith('Would set the quota')
    assert sim.by_name['node-0000'].quotas == {}


@pytest.mark.parametrize('args, problem', [
    (dict(limit_gb=-1), 'limit_gb must be greater than 0 and at most 1048576 (GB), got -1.0'),
    (dict(limit_gb=0), 'limit_gb must be greater than 0'),
    (dict(limit_gb=1e12), 'limit_gb must be greater than 0 and at most 1048576'),
    (dict(limit_gb='nan'), 'limit_gb must be greater than 0'),
    (dict(), 'state is present but all of the following are missing: limit_gb'),
    (dict(cache_salt='a/b', limit_gb=1), "cache_salt must be a non-empty tenant salt without '/'"),
    (dict(cache_salt='', limit_gb=1), 'cache_salt must be a non-empty tenant salt'),
    (dict(state='absent', limit_gb=1), 'limit_gb is only for state=present'),
])
def test_bad_quotas_change_nothing(sim, run_module, args, problem):
    node = sim.by_name['node-0000']
    node.quotas['tenant-a'] = 0.25
    result = run_module(lmcache_quota, quota(sim, **args))
    assert result['failed'] is True and problem in result['msg']
    assert node.quotas == {'tenant-a': 0.25} and node.requests == []


def test_an_unknown_salt_on_absent_is_no_change(sim, run_module):
    result = run_module(lmcache_quota, quota(sim, cache_salt='nobody', state='absent'))
    assert result['changed'] is False and "Tenant 'nobody' has no quota on" in result['msg']


def test_a_node_without_quota_routes_is_named(sim, run_module):
    node = sim.add_node('old', version='0.4.4')
    result = run_module(lmcache_quota, dict(url=sim.url(node), cache_salt='t', limit_gb=1))
    assert result['failed'] is True and 'cannot manage quotas: it has no quota endpoint (GET /quota)' in result['msg']
    assert 'API G1' in result['msg']


def test_a_fleet_wide_quota_on_the_coordinator(sim, run_module):
    args = dict(url='http://127.0.0.1:9', coordinator_url=sim.coordinator_url, cache_salt='tenant-a')
    first = run_module(lmcache_quota, dict(args, limit_gb=2))
    assert first['changed'] is True and sim.coordinator.quotas == {'tenant-a': 2.0}
    assert 'the coordinator %s (fleet-wide, L2)' % sim.coordinator_url in first['msg']
    assert first['coordinator_url'] == sim.coordinator_url and first['api_generation'] is None
    assert run_module(lmcache_quota, dict(args, limit_gb=2))['changed'] is False
    assert run_module(lmcache_quota, dict(args, state='absent'))['changed'] is True and sim.coordinator.quotas == {}
    assert all(node.quotas == {} for node in sim.by_name.values())
