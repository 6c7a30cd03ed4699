# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fan-out, the coordinator inventory and the roles, through ansible, against a simulated fleet (tests/sim).

Genuine servers cannot make a fleet of hundreds here, nor fail on cue: these tests use the simulator where the
integration tests (tests/integration) use genuine LMCache servers.
"""

from __future__ import annotations

import json
import os
import typing as t

import pytest

from ansible_collections.lmcache.kvcache.tests.helpers.ansible_run import Ansible
from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet


@pytest.fixture
def sim() -> t.Iterator[SimFleet]:
    """Twenty 0.5.6 nodes holding 4 L1 objects each, and a coordinator."""
    with SimFleet(nodes=20, objects=4) as fleet:
        yield fleet


class FleetAnsible(Ansible):
    """ansible-playbook on an inventory of the simulated nodes: each host with its lmcache_url, run locally."""

    def __init__(self, workdir: str, fleet: SimFleet) -> None:
        super().__init__(workdir)
        self.fleet = fleet

    def hosts(self, names: t.Optional[t.Iterable[str]] = None, **extra: t.Dict[str, t.Any]) -> t.Dict[str, t.Dict[str, t.Any]]:
        names = list(names) if names is not None else sorted(self.fleet.by_name)
        hosts = dict((name, {'lmcache_url': self.fleet.url(name)}) for name in names)
        for name, variables in extra.items():
            hosts.setdefault(name, {}).update(variables)
        return hosts

    def inventory_file(self, hosts: t.Dict[str, t.Dict[str, t.Any]], group: str = 'lmcache') -> str:
        path = os.path.join(self.workdir, 'inventory-%d.json' % (self.runs + 1))
        with open(path, 'w') as handle:
            json.dump({'all': {'children': {group: {'hosts': dict(
                (name, dict({'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}, **v))
                for name, v in hosts.items())}}}}, handle)
        return path

    def run(self, text: str, hosts: t.Dict[str, t.Dict[str, t.Any]], *options: str,
            env: t.Optional[t.Dict[str, str]] = None) -> t.Any:
        path = os.path.join(self.workdir, 'playbook-%d.yml' % (self.runs + 1))
        with open(path, 'w') as handle:
            handle.write(text)
        return self._run(['ansible-playbook', '-i', self.inventory_file(hosts), path] + list(options), env)

    def coordinator_inventory(self, **options: t.Any) -> str:
        path = os.path.join(self.workdir, 'fleet-%d.lmcache.yml' % (self.runs + 1))
        with open(path, 'w') as handle:
            json.dump(dict({'plugin': 'lmcache.kvcache.coordinator', 'coordinator_url': self.fleet.coordinator_url}, **options),
                      handle)
        return path


@pytest.fixture
def ansible(tmp_path: t.Any, sim: SimFleet) -> FleetAnsible:
    return FleetAnsible(str(tmp_path), sim)
