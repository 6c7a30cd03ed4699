# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet-scale benchmarks, side by side in one run: ./benchmarks/run.sh (see benchmarks/README.md).

Starts a simulated fleet of 1,000 LMCache nodes and a coordinator (tests/sim, one process, 127.0.x.y:one port), then
measures each case --runs times (median, min, max) and prints one table of times and ratios:

  A  50 hosts, forks 10: a per-host lmcache_kvcache_clear task vs an ansible.builtin.uri POST doing the clear
  B  1,000 endpoints: the fan-out vs the per-host module vs per-host uri (both measured on 200 hosts and scaled by 5)
     vs xargs -P 64 curl
  C  the coordinator inventory plugin building 1,000 hosts (in the plugin, and ansible-inventory --list)
  D  lmcache_kvcache_info over a 1,000,000-token request (3,906 chunks): the module's wall time and peak memory,
     and the whole ad-hoc task with token_ids_file vs with the 1,000,001-element list as an argument
  E  playbooks/maintenance_window.yml -e lmcache_fanout=true over 1,000 endpoints from the coordinator inventory,
     reports before and after included, vs per-host uri over 50 hosts (A)
  P  where a per-host module task spends its time outside Ansible's own work: the interpreter, the imports of the
     module (stdlib client) against those of the requests-based client it replaced and of ansible.builtin.uri,
     and the HTTP round trips of one clear
  T  ten thousand endpoints (a fleet of its own: 10,000 nodes behind 10 coordinators of 1,000): the floor (a no-op
     ansible-playbook start plus the clear's requests sent by a lean asyncio client, benchmarks/floor.py, at the same
     concurrency), the fan-out clear (whole run), xargs -P 64 curl, the coordinator inventory cold and warm against a
     static inventory of the same hosts (ansible-inventory --list, a no-op play over them), the maintenance window,
     the size of the ad-hoc task's output, and the largest process's peak memory
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import typing as t
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
BIN = os.path.dirname(PYTHON)


class Bench:
    def __init__(self, work: str, collections: str, runs: int) -> None:
        self.work = work
        self.collections = collections
        self.runs = runs
        self.rows: t.List[t.Tuple[str, str, t.Optional[t.List[float]], str]] = []
        self.fleet: t.Dict[str, t.Any] = {}
        self.process: t.Optional[subprocess.Popen] = None

    # -- the simulated fleet -------------------------------------------------------------------------------------

    def start_fleet(self, nodes: int = 1000, coordinators: int = 1) -> None:
        ready = os.path.join(self.work, 'fleet.json')
        self.process = subprocess.Popen(
            [PYTHON, os.path.join(ROOT, 'tests', 'sim', 'server.py'), '--nodes', str(nodes), '--ready-file', ready,
             '--coordinators', str(coordinators)],
            stdout=open(os.path.join(self.work, 'sim.log'), 'w'), stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while not os.path.exists(ready):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the simulated fleet did not start; see %s/sim.log' % self.work)
            time.sleep(0.1)
        with open(ready) as handle:
            self.fleet = json.load(handle)
        self.coordinator = 'http://127.0.0.1:%d' % self.fleet['coordinator_port']
        self.coordinators = ['http://127.0.0.1:%d' % port for port in self.fleet['coordinator_ports']]

    def stop_fleet(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def reset(self, objects: int = 4) -> None:
        request = urllib.request.Request(self.coordinator + '/_sim/reset', data=json.dumps({'objects': objects}).encode(),
                                         method='POST')
        urllib.request.urlopen(request, timeout=30).read()

    def state(self) -> t.Dict[str, t.Any]:
        return json.loads(urllib.request.urlopen(self.coordinator + '/_sim/state', timeout=30).read())['nodes']

    # -- running things ------------------------------------------------------------------------------------------

    def env(self) -> t.Dict[str, str]:
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=self.collections, ANSIBLE_LOCALHOST_WARNING='false',
                   ANSIBLE_HOST_KEY_CHECKING='false', ANSIBLE_NOCOLOR='1', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
                   ANSIBLE_PYTHON_INTERPRETER=PYTHON, PATH=BIN + os.pathsep + os.environ.get('PATH', ''))
        env.pop('ANSIBLE_CALLBACKS_ENABLED', None)
        return env

    def timed(self, command: t.List[str], before: t.Optional[t.Callable[[], None]] = None,
              check: t.Optional[t.Callable[[], None]] = None, runs: t.Optional[int] = None) -> t.List[float]:
        times = []
        for _run in range(runs or self.runs):
            if before:
                before()
            started = time.monotonic()
            done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env(),
                                  cwd=self.work, universal_newlines=True, check=False)
            times.append(time.monotonic() - started)
            if done.returncode != 0:
                raise RuntimeError('%s failed (%d):\n%s' % (' '.join(command), done.returncode, done.stdout[-3000:]))
            if check:
                check()
        return times

    def inventory(self, count: int) -> str:
        path = os.path.join(self.work, 'hosts-%d.json' % count)
        hosts = dict((name, {'lmcache_url': url, 'ansible_connection': 'local'}) for name, url in self.fleet['nodes'][:count])
        with open(path, 'w') as handle:
            json.dump({'all': {'children': {'lmcache': {'hosts': hosts}}}}, handle)
        return path

    def playbook(self, name: str, text: str) -> str:
        path = os.path.join(self.work, name)
        with open(path, 'w') as handle:
            handle.write(text)
        return path

    def row(self, case: str, what: str, times: t.Optional[t.List[float]], note: str = '') -> None:
        self.rows.append((case, what, times, note))
        shown = '%.2f s (min %.2f, max %.2f)' % (statistics.median(times), min(times), max(times)) if times else '-'
        print('  %-3s %-62s %s %s' % (case, what, shown, note), flush=True)

    def check_cleared(self, names: t.Sequence[str]) -> t.Callable[[], None]:
        def check() -> None:
            state = self.state()
            left = [n for n in names if state[n]['objects']]
            if left:
                raise RuntimeError('%d endpoints still hold objects after the run, e.g. %s' % (len(left), left[:3]))
        return check

    # -- the cases -----------------------------------------------------------------------------------------------

    def case_a(self) -> t.Tuple[t.List[float], t.List[float]]:
        names = [n for n, _url in self.fleet['nodes'][:50]]
        inventory = self.inventory(50)
        module = self.playbook('a-module.yml', PER_HOST_MODULE)
        uri = self.playbook('a-uri.yml', PER_HOST_URI)
        times_module = self.timed(['ansible-playbook', '-i', inventory, '-f', '10', module], self.reset, self.check_cleared(names))
        self.row('A', 'per-host lmcache_kvcache_clear, 50 hosts, forks 10', times_module,
                 '(hosts on the controller: run in the Ansible worker)')
        self.module_process = self.timed(['ansible-playbook', '-i', inventory, '-f', '10', module, '-e',
                                          'ansible_python_interpreter=%s' % self.python_elsewhere()],
                                         self.reset, self.check_cleared(names))
        self.row('A', 'per-host lmcache_kvcache_clear as a module process, 50 hosts', self.module_process,
                 '(as on an SSH host)')
        times_uri = self.timed(['ansible-playbook', '-i', inventory, '-f', '10', uri], self.reset, self.check_cleared(names))
        self.row('A', 'per-host ansible.builtin.uri POST /cache/clear, 50 hosts, forks 10', times_uri)
        return times_module, times_uri

    def case_b(self) -> t.Dict[str, t.List[float]]:
        names = [n for n, _url in self.fleet['nodes']]
        inventory = self.inventory(1000)
        fanout = self.playbook('b-fanout.yml', FANOUT_CLEAR)
        results = {}
        results['fanout'] = self.timed(['ansible-playbook', '-i', inventory, fanout], self.reset, self.check_cleared(names))
        self.row('B', 'fan-out lmcache_fanout clear, 1,000 endpoints (ansible-playbook, whole run)', results['fanout'])
        inventory_200 = self.inventory(200)
        for label, text in (('module', PER_HOST_MODULE), ('uri', PER_HOST_URI)):
            path = self.playbook('b-%s.yml' % label, text)
            measured = self.timed(['ansible-playbook', '-i', inventory_200, '-f', '10', path], self.reset)
            results[label] = [value * 5 for value in measured]
            self.row('B', 'per-host %s, 200 hosts x 5, forks 10' % ('lmcache_kvcache_clear' if label == 'module' else 'ansible.builtin.uri'),
                     results[label], '(measured on 200 hosts, scaled by 5)')
        urls = os.path.join(self.work, 'urls.txt')
        with open(urls, 'w') as handle:
            handle.write(''.join('%s/cache/clear\n' % url for _name, url in self.fleet['nodes']))
        curl = ['bash', '-c', 'xargs -P 64 -n 1 curl -s -o /dev/null -X POST -H "Content-Type: application/json" '
                              '-d \'{"tier":"l1","force":false}\' < %s' % urls]
        results['curl'] = self.timed(curl, self.reset, self.check_cleared(names))
        self.row('B', 'xargs -P 64 curl POST /cache/clear, 1,000 endpoints', results['curl'])
        return results

    def case_p(self) -> None:
        """The parts of a module process, each timed in a fresh interpreter (median of --runs)."""
        def python(code: str) -> t.List[float]:
            return self.timed([PYTHON, '-c', 'import sys\nsys.path.insert(0, %r)\n%s' % (self.collections, code)])
        # The tool venv has no requests (nothing needs it any more): put it beside, for its row only.
        extra = os.path.join(self.work, 'requests')
        subprocess.run([os.environ['UV'], 'pip', 'install', '-q', '--python', PYTHON, '--target', extra, '-r',
                        os.path.join(ROOT, 'benchmarks', 'requirements', 'requests.lock')], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = python('pass')
        self.row('P', 'python -c pass: interpreter start', base)
        imports = (
            ('ansible.module_utils.basic (every module)', 'import ansible.module_utils.basic'),
            ('+ this collection\'s client and operations (standard library sockets)',
             'import ansible.module_utils.basic\n'
             'from ansible_collections.lmcache.kvcache.plugins.module_utils import _module, _ops_node, _ops_request'),
            ('+ requests (the client before 0.1.0)',
             'sys.path.append(%r)\nimport ansible.module_utils.basic, requests' % extra),
            ('+ ansible.module_utils.urls (ansible.builtin.uri)', 'import ansible.module_utils.basic, ansible.module_utils.urls'),
        )
        for label, code in imports:
            self.row('P', 'imports: %s' % label, python(code))
        name, url = self.fleet['nodes'][0]
        sizes = []
        for module, args in (('lmcache.kvcache.lmcache_kvcache_clear', 'url=%s' % url),
                             ('ansible.builtin.uri', 'url=%s/cache/clear method=POST' % url)):
            sizes.append('%s %.0f kB' % (module.rsplit('.', 1)[1], self.payload_size(module, args) / 1024.0))
        self.row('P', 'AnsiballZ payload (the module and its module_utils, zipped)', None, ', '.join(sizes))
        self.reset()
        before = self.state()[name]['requests']
        self.timed(['ansible', 'localhost', '-m', 'lmcache.kvcache.lmcache_kvcache_clear', '-a', 'url=%s' % url], runs=1)
        after = self.state()[name]
        trips = after['requests'] - before
        self.row('P', 'HTTP round trips of one clear with its discovery: %d; ansible.builtin.uri: 1' % trips, None,
                 ', '.join(after['recent'][-trips:]))

    def python_elsewhere(self) -> str:
        """A Python for the hosts that is not the controller's own, as on a host reached over SSH: the modules then run as
        a module process each (with the controller's Python they run in the Ansible worker)."""
        wrapper = os.path.join(self.work, 'python-elsewhere')
        if not os.path.exists(wrapper):
            with open(wrapper, 'w') as handle:
                handle.write('#!/bin/sh\nexec %s "$@"\n' % PYTHON)
            os.chmod(wrapper, 0o755)
        return wrapper

    def payload_size(self, module: str, args: str) -> int:
        """The size of the AnsiballZ file Ansible writes for one run of the module (kept with ANSIBLE_KEEP_REMOTE_FILES)."""
        remote = tempfile.mkdtemp(prefix='remote-', dir=self.work)
        env = dict(self.env(), ANSIBLE_KEEP_REMOTE_FILES='1', ANSIBLE_REMOTE_TMP=remote)
        interpreter = 'ansible_python_interpreter=%s' % self.python_elsewhere()
        subprocess.run(['ansible', 'localhost', '-m', module, '-a', args, '-e', interpreter], env=env, cwd=self.work, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = [os.path.join(d, f) for d, _dirs, files in os.walk(remote) for f in files if f.startswith('AnsiballZ_')]
        if len(found) != 1:
            raise RuntimeError('expected one AnsiballZ file under %s, found %r' % (remote, found))
        return os.path.getsize(found[0])

    def case_t(self) -> t.Dict[str, t.List[float]]:
        """Ten thousand endpoints: see the module docstring."""
        names = [n for n, _url in self.fleet['nodes']]
        inventory = self.inventory(len(names))
        found: t.Dict[str, t.List[float]] = {}
        noop = self.playbook('t-noop.yml', NOOP)
        found['start'] = self.timed(['ansible-playbook', '-i', 'localhost,', noop])
        self.row('T', 'no-op ansible-playbook start', found['start'])
        floor = [os.path.join(ROOT, 'benchmarks', 'floor.py'), os.path.join(self.work, 'fleet.json'), '64']
        found['requests'] = self.timed([PYTHON] + floor, self.reset, self.check_cleared(names))
        self.row('T', 'the clear\'s requests, lean asyncio client, 10,000 nodes, 64 at once', found['requests'])
        found['floor'] = [median(found['start']) + value for value in found['requests']]
        # What Ansible itself spends on 10,000 hosts before any task: the same no-op play with the fan-out's inventory.
        found['start_inventory'] = self.timed(['ansible-playbook', '-i', inventory, noop])
        self.row('T', 'no-op ansible-playbook start with the 10,000-host inventory', found['start_inventory'])
        fanout = self.playbook('t-fanout.yml', FANOUT_CLEAR)
        found['fanout'] = self.timed(['ansible-playbook', '-i', inventory, fanout], self.reset, self.check_cleared(names))
        self.row('T', 'fan-out lmcache_fanout clear, 10,000 endpoints (ansible-playbook, whole run)', found['fanout'])
        urls = os.path.join(self.work, 'urls-10k.txt')
        with open(urls, 'w') as handle:
            handle.write(''.join('%s/cache/clear\n' % url for _name, url in self.fleet['nodes']))
        curl = ['bash', '-c', 'xargs -P 64 -n 1 curl -s -o /dev/null -X POST -H "Content-Type: application/json" '
                              '-d \'{"tier":"l1","force":false}\' < %s' % urls]
        found['curl'] = self.timed(curl, self.reset, self.check_cleared(names), runs=1)
        self.row('T', 'xargs -P 64 curl POST /cache/clear, 10,000 endpoints', found['curl'], '(1 run)')
        self.reset()
        adhoc = subprocess.run(['ansible', 'localhost', '-i', inventory, '-m', 'lmcache.kvcache.lmcache_fanout', '-a',
                                'operation=clear hosts=lmcache'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               env=self.env(), cwd=self.work, check=False)
        self.output_bytes = len(adhoc.stdout)
        self.row('T', 'ad-hoc clear of 10,000 endpoints: output on the terminal', None, '%d bytes' % self.output_bytes)
        found.update(self.case_t_inventory(inventory))
        reports = os.path.join(self.work, 'reports-10k')
        window = ['ansible-playbook', '-i', self.coordinator_inventory_10k, os.path.join(ROOT, 'playbooks', 'maintenance_window.yml'),
                  '-e', 'lmcache_fanout=true', '-e', 'lmcache_report_dir=%s' % reports]
        found['window'] = self.timed(window, lambda: (self.reset(), shutil.rmtree(reports, ignore_errors=True)),
                                     self.check_cleared(names), runs=1)
        self.row('T', 'maintenance_window.yml, fan-out, 10,000 endpoints from 10 coordinators, reports', found['window'], '(1 run)')
        found['sliced'] = self.case_t_sliced(names)
        self.row('T', 'the same window sliced over 4 ansible-runner processes (--limit), all at once', found['sliced'],
                 '(1 run; every host cleared exactly once)')
        import resource
        self.peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
        self.row('T', 'peak memory of the largest process run so far', None, '%.0f MB' % self.peak_mb)
        return found

    def case_t_sliced(self, names: t.List[str], slices: int = 4) -> t.List[float]:
        """The window as AWX job slicing runs it: `slices` ansible-runner processes at once, each on its --limit slice
        of the coordinator inventory; every host must be cleared exactly once."""
        size = -(-len(names) // slices)
        playbook = os.path.join(self.collections, 'ansible_collections', 'lmcache', 'kvcache', 'playbooks', 'maintenance_window.yml')
        self.reset()
        before = dict((name, node['clears']) for name, node in self.state().items())
        started = time.monotonic()
        runners = []
        for number in range(slices):
            data = tempfile.mkdtemp(prefix='slice-%d-' % number, dir=self.work)
            runners.append(subprocess.Popen(
                [PYTHON, '-c', RUNNER_SLICE, data, playbook, self.coordinator_inventory_10k,
                 'lmcache[%d:%d]' % (number * size, (number + 1) * size - 1), self.collections],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env(), cwd=self.work, universal_newlines=True))
        outputs = [runner.communicate()[0] for runner in runners]
        took = time.monotonic() - started
        if any(runner.returncode for runner in runners):
            raise RuntimeError('a slice failed:\n%s' % '\n'.join(output[-2000:] for output in outputs))
        after = self.state()
        wrong = [name for name in names if after[name]['clears'] - before[name] != 1]
        if wrong:
            raise RuntimeError('%d hosts were not cleared exactly once by the slices, e.g. %s' % (len(wrong), wrong[:3]))
        return [took]

    def case_t_inventory(self, static: str) -> t.Dict[str, t.List[float]]:
        """The coordinator inventory of the 10,000 (usage read), cold and from its warm cache, against a static
        inventory of the same hosts: ansible-inventory --list, and a no-op play over every host."""
        path = os.path.join(self.work, 'fleet-10k.lmcache.yml')
        cache = os.path.join(self.work, 'inventory-cache')
        with open(path, 'w') as handle:
            json.dump({'plugin': 'lmcache.kvcache.coordinator', 'coordinator_url': self.coordinators, 'usage': True,
                       'cache': True, 'cache_plugin': 'ansible.builtin.jsonfile', 'cache_connection': cache}, handle)
        self.coordinator_inventory_10k = path
        listed = os.path.join(self.work, 'inventory-10k.json')
        play = self.playbook('t-noop-hosts.yml', NOOP_ON_HOSTS)

        def cold_cache() -> None:
            shutil.rmtree(cache, ignore_errors=True)

        found = {}
        found['list_static'] = self.timed(['ansible-inventory', '-i', static, '--list', '--output', listed])
        self.row('T', 'ansible-inventory --list, static: the hosts, lmcache_url, ansible_connection', found['list_static'])
        found['list_cold'] = self.timed(['ansible-inventory', '-i', path, '--list', '--output', listed], cold_cache)
        self.row('T', 'ansible-inventory --list, 10 coordinators x 1,000, usage, cold', found['list_cold'])
        found['list_warm'] = self.timed(['ansible-inventory', '-i', path, '--list', '--output', listed])
        self.row('T', 'the same with its cache warm', found['list_warm'])
        with open(listed) as handle:
            hosts = len(json.load(handle)['lmcache']['hosts'])
        if hosts != len(self.fleet['nodes']):
            raise RuntimeError('the inventory of 10 coordinators has %d hosts, not %d' % (hosts, len(self.fleet['nodes'])))
        same = self.static_copy(path)
        found['list_same'] = self.timed(['ansible-inventory', '-i', same, '--list', '--output', listed])
        self.row('T', 'ansible-inventory --list, static: the coordinator inventory exported', found['list_same'])
        found['play_static'] = self.timed(['ansible-playbook', '-i', static, play])
        self.row('T', 'no-op play on the 10,000 hosts, static: lmcache_url, ansible_connection', found['play_static'])
        found['play_same'] = self.timed(['ansible-playbook', '-i', same, play])
        self.row('T', 'the same, static: the coordinator inventory exported', found['play_same'])
        found['play_cold'] = self.timed(['ansible-playbook', '-i', path, play], cold_cache)
        self.row('T', 'the same over the coordinator inventory, cold', found['play_cold'])
        found['play_warm'] = self.timed(['ansible-playbook', '-i', path, play])
        self.row('T', 'the same, its cache warm', found['play_warm'])
        return found

    def static_copy(self, path: str) -> str:
        """The coordinator inventory written as a static one: the same hosts, groups and variables (its
        `ansible-inventory --list --export`, as the JSON the yaml inventory plugin reads)."""
        exported = os.path.join(self.work, 'inventory-10k-export.json')
        self.timed(['ansible-inventory', '-i', path, '--list', '--export', '--output', exported], runs=1)
        with open(exported) as handle:
            listing = json.load(handle)

        def plain(value: t.Any) -> t.Any:
            if isinstance(value, dict):
                if list(value) == ['__ansible_unsafe']:
                    return value['__ansible_unsafe']
                return dict((key, plain(item)) for key, item in value.items())
            return value

        hostvars = listing.pop('_meta')['hostvars']
        written: t.Set[str] = set()

        def hosts_of(group: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
            """Each host's variables where it first appears; its other groups name it only."""
            hosts = dict((h, {} if h in written else plain(hostvars.get(h, {}))) for h in group.get('hosts', []))
            written.update(hosts)
            return hosts

        groups = dict((name, dict(vars=plain(group.get('vars', {})), children=dict((c, {}) for c in group.get('children', [])),
                                  hosts=hosts_of(group)))
                      for name, group in listing.items())
        static = os.path.join(self.work, 'static-copy-10k.json')
        with open(static, 'w') as handle:
            json.dump(dict(groups), handle)
        return static

    def case_c(self) -> None:
        path = os.path.join(self.work, 'coordinator.lmcache.yml')
        with open(path, 'w') as handle:
            handle.write('plugin: lmcache.kvcache.coordinator\ncoordinator_url: %s\nusage: true\n' % self.coordinator)
        probe = ('import time, sys\n'
                 'from ansible.parsing.dataloader import DataLoader\n'
                 'from ansible.inventory.manager import InventoryManager\n'
                 'from ansible.plugins.loader import init_plugin_loader\n'
                 'init_plugin_loader()\n'
                 'loader = DataLoader()\n'
                 'started = time.monotonic()\n'
                 'inventory = InventoryManager(loader=loader, sources=[sys.argv[1]])\n'
                 'elapsed = time.monotonic() - started\n'
                 'assert len(inventory.get_hosts("lmcache")) == 1000, len(inventory.get_hosts("lmcache"))\n'
                 'print(elapsed)\n')
        times = []
        for _run in range(self.runs):
            done = subprocess.run([PYTHON, '-c', probe, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  env=self.env(), universal_newlines=True, check=True)
            times.append(float(done.stdout.strip().splitlines()[-1]))
        self.row('C', 'coordinator inventory: 1,000 hosts built (the plugin, in-process)', times)
        self.row('C', 'ansible-inventory --list on it (whole command)',
                 self.timed(['ansible-inventory', '-i', path, '--list'], None, None))
        self.coordinator_inventory = path

    def case_d(self) -> None:
        tokens = [1] + [9906] * 999999
        token_file = os.path.join(self.work, 'tokens-1m.json')
        with open(token_file, 'w') as handle:
            json.dump(tokens, handle)
        # The request's 3,906 chunks, stored on one node of the simulated fleet.
        request = urllib.request.Request(self.coordinator + '/_sim/store', data=json.dumps(
            {'node': self.fleet['nodes'][0][0], 'token_ids': tokens, 'model': 'test-model'}).encode(), method='POST')
        urllib.request.urlopen(request, timeout=120).read()
        args = {'url': self.fleet['nodes'][0][1], 'coordinator_url': self.coordinator, 'model_name': 'test-model',
                'token_ids_file': token_file}
        module_run = ('import json, resource, sys, time, io, contextlib\n'
                      'started = time.monotonic()\n'
                      'from ansible.module_utils.testing import patch_module_args\n'
                      'from ansible_collections.lmcache.kvcache.plugins.modules import lmcache_kvcache_info\n'
                      'args = json.loads(sys.argv[1])\n'
                      'out = io.StringIO()\n'
                      'with patch_module_args(args), contextlib.redirect_stdout(out):\n'
                      '    try:\n'
                      '        lmcache_kvcache_info.main()\n'
                      '    except SystemExit:\n'
                      '        pass\n'
                      'elapsed = time.monotonic() - started\n'
                      'result = json.loads(out.getvalue())\n')
        controller_run = ('import json, resource, sys, time\n'
                          'from ansible_collections.lmcache.kvcache.plugins.plugin_utils._local import BY_MODULE, run_operation\n'
                          'args = json.loads(sys.argv[1])\n'
                          'started = time.monotonic()\n'
                          'result = run_operation(BY_MODULE["lmcache_kvcache_info"], args, False, False)\n'
                          'elapsed = time.monotonic() - started\n')
        check = ('assert result.get("cached_chunks") == 3906, result.get("msg")\n'
                 'print(json.dumps([elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0]))\n')
        env = dict(self.env(), PYTHONPATH=self.collections)
        for label, code, extra in (
                ('the operation on the controller (local hosts, the fan-out)', controller_run, {}),
                ('the module in its own process (as on an SSH host)', module_run, {}),
                ('the module in its own process, per_chunk=false', module_run, {'per_chunk': False})):
            walls, peaks = [], []
            for _run in range(self.runs):
                done = subprocess.run([PYTHON, '-c', code + check, json.dumps(dict(args, **extra))], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, env=env, universal_newlines=True, check=False)
                if done.returncode != 0:
                    raise RuntimeError('info over 1,000,000 tokens failed:\n%s' % done.stdout[-3000:])
                wall, peak = json.loads(done.stdout.strip().splitlines()[-1])
                walls.append(wall)
                peaks.append(peak)
            self.row('D', 'info, 1,000,000 tokens: %s' % label, walls,
                     'peak %.0f MB (min %.0f, max %.0f)' % (statistics.median(peaks), min(peaks), max(peaks)))
            if label.startswith('the operation'):
                self.info_times, self.info_peaks = walls, peaks
        adhoc = ['ansible', 'localhost', '-c', 'local', '-m', 'lmcache.kvcache.lmcache_kvcache_info', '-a', json.dumps(args)]
        self.row('D', 'ad-hoc task with token_ids_file (whole command, Ansible start included)', self.timed(adhoc))
        listed = dict(args)
        del listed['token_ids_file']
        args_file = os.path.join(self.work, 'tokens-1m-args.json')
        with open(args_file, 'w') as handle:
            json.dump(dict(listed, token_ids=tokens), handle)
        play = self.playbook('d-list.yml', LIST_ARGUMENT)
        self.row('D', 'the same with token_ids as a 1,000,001-element list (whole command)',
                 self.timed(['ansible-playbook', '-i', 'localhost,', play, '-e', '@%s' % args_file], runs=1), '(1 run)')

    def case_e(self) -> t.List[float]:
        names = [n for n, _url in self.fleet['nodes']]
        reports = os.path.join(self.work, 'reports')
        command = ['ansible-playbook', '-i', self.coordinator_inventory, os.path.join(ROOT, 'playbooks', 'maintenance_window.yml'),
                   '-e', 'lmcache_fanout=true', '-e', 'lmcache_report_dir=%s' % reports]
        times = self.timed(command, lambda: (self.reset(), shutil.rmtree(reports, ignore_errors=True)), self.check_cleared(names))
        self.row('E', 'maintenance_window.yml, fan-out, 1,000 endpoints, reports before/after', times)
        return times


PER_HOST_MODULE = '''
- hosts: lmcache
  gather_facts: false
  tasks:
    - lmcache.kvcache.lmcache_kvcache_clear:
        url: "{{ lmcache_url }}"
'''
PER_HOST_URI = '''
- hosts: lmcache
  gather_facts: false
  tasks:
    - ansible.builtin.uri:
        url: "{{ lmcache_url }}/cache/clear"
        method: POST
        body_format: json
        body: {tier: l1, force: false}
'''
RUNNER_SLICE = '''
import sys
import ansible_runner
data, playbook, inventory, limit, collections = sys.argv[1:6]
run = ansible_runner.run(private_data_dir=data, playbook=playbook, inventory=inventory, limit=limit, quiet=True,
                         extravars={'lmcache_fanout': True, 'lmcache_report_dir': data + '/reports'},
                         envvars={'ANSIBLE_COLLECTIONS_PATH': collections})
print(run.status, run.rc)
sys.exit(0 if run.status == 'successful' else 1)
'''
NOOP = '''
- hosts: localhost
  gather_facts: false
  tasks: []
'''
NOOP_ON_HOSTS = '''
- hosts: lmcache
  gather_facts: false
  tasks: []
'''
FANOUT_CLEAR = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - lmcache.kvcache.lmcache_fanout:
        operation: clear
        hosts: lmcache
'''
LIST_ARGUMENT = '''
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - lmcache.kvcache.lmcache_kvcache_info:
        url: "{{ url }}"
        coordinator_url: "{{ coordinator_url }}"
        model_name: "{{ model_name }}"
        token_ids: "{{ token_ids }}"
'''


def median(values: t.List[float]) -> float:
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--collections', required=True, help='a directory holding ansible_collections/lmcache/kvcache')
    parser.add_argument('--cases', default='ABCDEP', help='ABCDEP on 1,000 nodes; T on a fleet of 10,000 of its own')
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='lmcache-bench-')
    bench = Bench(work, args.collections, args.runs)
    if args.cases == 'T':
        return ten_thousand(bench, work)
    print('simulated fleet of 1,000 nodes and a coordinator; %d runs per case; work dir %s' % (args.runs, work), flush=True)
    bench.start_fleet()
    try:
        a = bench.case_a() if 'A' in args.cases else None
        b = bench.case_b() if 'B' in args.cases else None
        if 'C' in args.cases or 'E' in args.cases:
            bench.case_c()
        if 'D' in args.cases:
            bench.case_d()
        e = bench.case_e() if 'E' in args.cases else None
        if 'P' in args.cases:
            bench.case_p()
    finally:
        bench.stop_fleet()
    print('\nratios (medians; target in brackets)')
    if a:
        print('  A  per-host module / per-host uri, 50 hosts:         %.2fx  [<= 0.9x]' % (median(a[0]) / median(a[1])))
        print('  A  the same as module processes / per-host uri:      %.2fx' % (median(bench.module_process) / median(a[1])))
    if 'D' in args.cases:
        print('  D  info over 1,000,000 tokens on the controller:     %.2f s, %.0f MB  [< 1 s, < 100 MB]'
              % (median(bench.info_times), median(bench.info_peaks)))
    if b:
        print('  B  per-host uri / fan-out, 1,000 endpoints:          %.1fx  [>= 40x]' % (median(b['uri']) / median(b['fanout'])))
        print('  B  per-host module / fan-out, 1,000 endpoints:       %.1fx' % (median(b['module']) / median(b['fanout'])))
        print('  B  fan-out / xargs -P 64 curl, 1,000 endpoints:      %.2fx  [<= 2x]; fan-out %.2f s [<= 5 s]'
              % (median(b['fanout']) / median(b['curl']), median(b['fanout'])))
    if a and e:
        print('  E  window (fan-out, 1,000) / per-host uri (50):      %.2fx  [< 1x]' % (median(e) / median(a[1])))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def ten_thousand(bench: Bench, work: str) -> int:
    print('simulated fleet of 10,000 nodes behind 10 coordinators; %d runs per case; work dir %s' % (bench.runs, work),
          flush=True)
    bench.start_fleet(10000, coordinators=10)
    try:
        found = bench.case_t()
    finally:
        bench.stop_fleet()
    print('\nratios (medians; target in brackets)')
    print('  T  fan-out / floor, 10,000 endpoints:                 %.2fx  [<= 1.5x]; floor %.2f s'
          % (median(found['fanout']) / median(found['floor']), median(found['floor'])))
    print('  T  fan-out / (floor + loading the 10,000 hosts):      %.2fx  (Ansible\'s own inventory cost added to the floor)'
          % (median(found['fanout']) / (median(found['floor']) + median(found['start_inventory']) - median(found['start']))))
    print('  T  fan-out clear, whole run:                          %.2f s  [<= 10 s]' % median(found['fanout']))
    print('  T  fan-out / xargs -P 64 curl:                        %.2fx  [< 1x]' % (median(found['fanout']) / median(found['curl'])))
    print('  T  window over 10,000:                                %.2f s  [<= 30 s]' % median(found['window']))
    print('  T  window / floor:                                    %.2fx  [<= 5x]' % (median(found['window']) / median(found['floor'])))
    print('  T  window sliced over 4 runners / one controller:     %.2fx' % (median(found['sliced']) / median(found['window'])))
    for what, key in (('ansible-inventory --list', 'list'), ('no-op play on the hosts', 'play')):
        for static_kind, static_key in (('the same exported', '_same'), ('url and connection', '_static')):
            static = median(found[key + static_key])
            print('  T  coordinator inventory / static (%s), %s: cold %.2fx [<= 1.5x], warm %.2fx [<= 1.2x]; static %.2f s'
                  % (static_kind, what, median(found[key + '_cold']) / static, median(found[key + '_warm']) / static, static))
    print('  T  peak memory, output of the ad-hoc clear:           %.0f MB, %d bytes  [<= 1 GB, bounded]'
          % (bench.peak_mb, bench.output_bytes))
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
