# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""ansible and ansible-playbook runs for the tests, with every task's result recorded (callback record_results)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t

CALLBACKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'integration', 'callback_plugins')


class Run:
    """What one ansible or ansible-playbook command did: exit code, what the user saw, each task's result."""

    def __init__(self, returncode: int, output: str, records: t.List[t.Dict[str, t.Any]]) -> None:
        self.returncode = returncode
        self.output = output
        self.records = records

    def record(self, task: t.Optional[str] = None, host: t.Optional[str] = None) -> t.Dict[str, t.Any]:
        matches = [r for r in self.records if (task is None or r['task'] == task) and (host is None or r['host'] == host)]
        assert len(matches) == 1, 'expected one result for task=%r host=%r, got %d:\n%s' % (task, host, len(matches), self.output)
        return matches[0]

    def result(self, task: t.Optional[str] = None, host: t.Optional[str] = None) -> t.Dict[str, t.Any]:
        return self.record(task, host)['result']

    def outcome(self, task: t.Optional[str] = None, host: t.Optional[str] = None) -> str:
        """'ok', 'failed' or 'unreachable'."""
        return self.record(task, host)['outcome']


class Ansible:
    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.runs = 0

    def _run(self, command: t.List[str], env: t.Optional[t.Dict[str, str]] = None) -> Run:
        self.runs += 1
        record_file = os.path.join(self.workdir, 'results-%d.jsonl' % self.runs)
        environment = dict(os.environ)
        environment.update({
            'ANSIBLE_CALLBACK_PLUGINS': CALLBACKS,
            'ANSIBLE_CALLBACKS_ENABLED': 'record_results',
            'ANSIBLE_LOAD_CALLBACK_PLUGINS': '1',
            'ANSIBLE_HOST_KEY_CHECKING': 'false',
            'ANSIBLE_LOCALHOST_WARNING': 'false',
            'ANSIBLE_INVENTORY_UNPARSED_WARNING': 'false',
            'ANSIBLE_NOCOLOR': '1',
            'ANSIBLE_FORCE_COLOR': '0',
            'RECORD_RESULTS_FILE': record_file,
        })
        environment.update(env or {})
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              env=environment, cwd=self.workdir, timeout=600, check=False)
        records = []
        if os.path.exists(record_file):
            with open(record_file) as handle:
                records = [json.loads(line) for line in handle]
        return Run(done.returncode, done.stdout, records)

    def adhoc(self, module: str, args: t.Dict[str, t.Any], *options: str, env: t.Optional[t.Dict[str, str]] = None,
              python: str = sys.executable) -> Run:
        """`ansible localhost -m lmcache.kvcache.MODULE -a '{json}'`, the way an operator runs it."""
        command = ['ansible', 'localhost', '-c', 'local', '-e', 'ansible_python_interpreter=%s' % python,
                   '-m', 'lmcache.kvcache.%s' % module]
        if args:
            command += ['-a', json.dumps(args)]
        return self._run(command + list(options), env)

    def playbook(self, text: str, hosts: t.Dict[str, t.Dict[str, t.Any]], *options: str) -> Run:
        """ansible-playbook on a playbook text and an inventory of local hosts with the given host vars."""
        path = os.path.join(self.workdir, 'playbook-%d.yml' % (self.runs + 1))
        with open(path, 'w') as handle:
            handle.write(text)
        return self.playbook_file(path, hosts, *options)

    def playbook_file(self, path: str, hosts: t.Dict[str, t.Dict[str, t.Any]], *options: str) -> Run:
        """ansible-playbook on a playbook file, in place, and an inventory of local hosts with the given host vars."""
        inventory = os.path.join(self.workdir, 'inventory-%d.json' % (self.runs + 1))
        with open(inventory, 'w') as handle:
            host_vars = {name: dict({'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}, **variables)
                         for name, variables in hosts.items()}
            json.dump({'all': {'hosts': host_vars}}, handle)
        return self._run(['ansible-playbook', '-i', inventory, path] + list(options))


# A play that reads every host's server with its lmcache_url: the task is named Read.
SERVER_INFO_PLAY = '''
- hosts: lmcache
  gather_facts: false
  tasks:
    - name: Read
      lmcache.kvcache.lmcache_server_info:
        url: "{{ lmcache_url }}"
'''
