# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Event-Driven Ansible with the real ansible-rulebook: the collection's rulebook clear_on_watermark, its event source
lmcache.kvcache.fleet and its playbook clear_node against a genuine LMCache 0.5.6 node, whose L1 LMCache's own bench
client fills past the watermark."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import Fleet, http_json

pytestmark = pytest.mark.skipif(shutil.which('java') is None or shutil.which('ansible-rulebook') is None,
                                reason='ansible-rulebook and a Java runtime are needed (tests/stages.sh installs them)')
# The bound this test holds the whole loop to: from the bench client's last store to an empty L1 (a poll each second,
# the rule, and an ansible-playbook run that clears the node).
REACTION_BOUND_SECONDS = 45.0


@pytest.fixture(scope='module')
def watched(tmp_path_factory):
    fleet = Fleet(str(tmp_path_factory.mktemp('eda')))
    fleet.add('w56', '0.5.6')
    with fleet:
        yield fleet.nodes['w56']


@contextlib.contextmanager
def running_rulebook(tmp_path, rulebook, variables):
    """ansible-rulebook running the collection's `rulebook` with these variables on a local inventory; its log's path.
    Stopped on the way out."""
    (tmp_path / 'vars.yml').write_text(json.dumps(variables))
    (tmp_path / 'inventory.yml').write_text(json.dumps({'all': {'hosts': {'localhost': {
        'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}}))
    log_path = tmp_path / 'rulebook.log'
    with open(str(log_path), 'w') as log:
        process = subprocess.Popen(
            ['ansible-rulebook', '-r', 'lmcache.kvcache.%s' % rulebook, '-i', str(tmp_path / 'inventory.yml'),
             '--vars', str(tmp_path / 'vars.yml'), '--print-events', '-v'],
            stdout=log, stderr=subprocess.STDOUT, cwd=str(tmp_path), env=dict(os.environ))
    try:
        yield process, log_path
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_a_watermark_breach_made_by_the_bench_client_fires_the_rulebook_which_clears_the_node(watched, tmp_path):
    assert watched.l1_objects() == 0
    variables = {'lmcache_urls': [watched.url], 'lmcache_interval': 1, 'lmcache_watermark': 0.1}
    with running_rulebook(tmp_path, 'clear_on_watermark', variables) as (rulebook, log_path):
        assert wait_for(lambda: 'Waiting for events' in log_path.read_text() or rulebook.poll() is not None, 60), log_path.read_text()
        time.sleep(3)
        assert rulebook.poll() is None, log_path.read_text()
        assert 'l1_usage_high' not in log_path.read_text()
        started = time.monotonic()
        # The bench client stores 4 objects; the rulebook may clear them before it even returns.
        watched.fill(2)
        filled = time.monotonic()
        cleared = wait_for(lambda: watched.l1_objects() == 0, REACTION_BOUND_SECONDS)
        took = time.monotonic() - filled
        assert cleared, 'not cleared within %ss:\n%s' % (REACTION_BOUND_SECONDS, log_path.read_text())
        print('the rulebook cleared the node %.1f s after the bench client returned (%.1f s after it started)'
              % (took, time.monotonic() - started))
        # The playbook's own output reaches the log as it runs: wait for its last line, then read it all.
        freed = 'Cleared 4 objects (16.00 MB) from L1 of %s' % watched.url
        assert wait_for(lambda: freed in log_path.read_text(), 30), log_path.read_text()
        assert 'PLAY [Clear the LMCache node an event names]' in log_path.read_text()
        # Once cleared the node is under the watermark again: one more event, and no second clear.
        assert wait_for(lambda: "'type': 'l1_usage_normal'" in log_path.read_text(), 10), log_path.read_text()
        output = log_path.read_text()
        assert output.count("'type': 'l1_usage_high'") == 1 and "'objects': 4" in output
        assert output.count('PLAY [Clear the LMCache node an event names]') == 1


@pytest.fixture(scope='module')
def registry(tmp_path_factory):
    """A genuine LMCache 0.5.6 coordinator, with no node of its own: registrations are made by hand, as anyone can."""
    fleet = Fleet(str(tmp_path_factory.mktemp('registry')))
    fleet.add_coordinator('0.5.6')
    with fleet:
        yield fleet.coordinator


def registered(coordinator):
    return sorted(i['instance_id'] for i in http_json('GET', coordinator.url + '/instances')[1]['instances'])


def test_the_rulebook_takes_a_registration_outside_the_networks_off_the_coordinator_once(registry, tmp_path):
    for instance, address in (('fleet-node', '127.0.0.1'), ('stranger', '127.0.2.9')):
        assert http_json('POST', registry.url + '/instances', {'instance_id': instance, 'ip': address, 'http_port': 8080})[0] == 200
    assert registered(registry) == ['fleet-node', 'stranger']
    variables = {'lmcache_coordinator_urls': [registry.url], 'lmcache_networks': ['127.0.0.1/32'], 'lmcache_interval': 1}
    with running_rulebook(tmp_path, 'deregister_outside', variables) as (_rulebook, log_path):
        assert wait_for(lambda: registered(registry) == ['fleet-node'], 60), log_path.read_text()
        # The playbook's last line, then a few more polls: the stranger is gone, so no second event and no second run.
        assert wait_for(lambda: 'Deregistered stranger at 127.0.2.9:8080' in log_path.read_text(), 30), log_path.read_text()
        time.sleep(3)
        output = log_path.read_text()
        assert output.count("'type': 'registration_outside'") == 1 and "'instance_id': 'stranger'" in output
        assert output.count('PLAY [Deregister the instance an event names]') == 1
        assert registered(registry) == ['fleet-node']
