# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The genuine LMCache fleet of the ansible-test integration targets: started once, reused by every target, stopped by
tests/stages.sh (scripts/fleet.py down --state STATE). Prints the fleet's URLs as JSON.

    python lmcache_fleet.py COLLECTION_ROOT STATE up|fill NODE
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

root, state, command = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(root, 'scripts'))
from fleet import Fleet, free_port, http_json, wait_until_healthy  # noqa: E402  (the collection's own launcher)


def healthy(fleet):
    urls = [node.url + '/healthcheck' for node in fleet.nodes.values()] + [fleet.coordinator.url + '/healthz']
    urls += [url + '/healthcheck' for _pid, url in fleet.others.values()]
    try:
        return all(http_json('GET', url, timeout=2)[0] == 200 for url in urls)
    except OSError:
        return False


def up():
    if os.path.exists(state):
        fleet = Fleet.load(state)
        if healthy(fleet):
            return fleet
        fleet.stop()
    fleet = Fleet.fresh(os.path.join(os.path.dirname(state), 'fleet'))
    fleet.add_coordinator()
    fleet.add('node-a', '0.5.6')
    fleet.add('node-b', '0.5.0', coordinator_url='')
    try:
        fleet.start()
        fleet.nodes['node-a'].fill(2)
        fleet.nodes['node-a'].attach_engine()
        fleet.nodes['node-b'].fill(2)
        port = free_port()
        reference = subprocess.Popen([sys.executable, os.path.join(root, 'tests', 'reference_server', 'server.py'),
                                      '--port', str(port), '--request', 'req-it=1024'],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        url = 'http://127.0.0.1:%d' % port
        fleet.others['reference'] = [reference.pid, url]
        wait_until_healthy(url + '/healthcheck', reference.pid, 'the reference server', timeout=60)
    except Exception:
        fleet.stop()
        raise
    fleet.save(state)
    return fleet


if command == 'up':
    fleet = up()
elif command == 'fill':
    fleet = Fleet.load(state)
    fleet.nodes[sys.argv[4]].fill(2)
print(json.dumps({'coordinator_url': fleet.coordinator.url, 'reference_url': fleet.others['reference'][1],
                  'nodes': dict((name, node.url) for name, node in fleet.nodes.items())}))
