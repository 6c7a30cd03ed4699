# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start, fill and stop genuine LMCache servers on loopback, CPU-only, telemetry off.

Used by the integration tests (as a library) and by the demo (as a command):

    python scripts/fleet.py up --state DIR/fleet.json node-a=0.5.6 node-b=0.5.0 --fill 2
    python scripts/fleet.py down --state DIR/fleet.json

Standard library only, so any Python 3.8+ runs it. The LMCache releases live in their own venvs, built once by
ensure_venv.sh next to this file and cached outside the repository.
"""

from __future__ import annotations

import argparse
import atexit
import concurrent.futures
import glob
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import typing as t
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
LOOPBACK = '127.0.0.1'
# What LMCache's bench client stores per sequence: [seq] + [9906] * BENCH_TOKENS, model test-model (real-lmcache.md).
BENCH_TOKENS = 512
BENCH_FILLER_TOKEN = 9906
BENCH_MODEL = 'test-model'
CHUNK_TOKENS = 256


def bench_token_ids(sequence: int, num_tokens: int = BENCH_TOKENS) -> t.List[int]:
    """The token ids LMCache's bench client stores for one sequence (its last, partial chunk is not cached)."""
    return [sequence] + [BENCH_FILLER_TOKEN] * num_tokens


def lmcache_env(home: str) -> t.Dict[str, str]:
    """A minimal environment for LMCache processes: telemetry off, offline, no secrets (GET /env shows it all)."""
    return {
        'PATH': os.environ.get('PATH', '/usr/bin:/bin'),
        'LANG': 'C.UTF-8',
        'HOME': home,
        'LMCACHE_TRACK_USAGE': 'false',
        'DO_NOT_TRACK': '1',
        'LMCACHE_USAGE_TRACK_URL': 'http://127.0.0.1:9/',
        'HF_HUB_OFFLINE': '1',
        'TRANSFORMERS_OFFLINE': '1',
        'LMCACHE_DISABLE_BANNER': '1',
    }


def ensure_venv(version: str) -> str:
    """Path of the venv holding LMCache `version`, built on first use."""
    output = subprocess.run(['bash', os.path.join(HERE, 'ensure_venv.sh'), version], check=True,
                            stdout=subprocess.PIPE, universal_newlines=True).stdout
    return output.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def http_json(method: str, url: str, body: t.Any = None, timeout: float = 10.0,
              api_key: t.Optional[str] = None) -> t.Tuple[int, t.Any]:
    """(status, parsed body) of one request; the verification side of the tests, independent of the collection."""
    data = json.dumps(body).encode() if body is not None else None
    headers = {'Content-Type': 'application/json'}
    if api_key:
        headers['Authorization'] = 'Bearer %s' % api_key
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # nosec: loopback test servers only
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        status, text = exc.code, exc.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


PRELOADED = ('torch', 'lmcache.cli.main', 'lmcache.v1.multiprocess.http_server',
             'lmcache.v1.storage_backend.connector.bigtable_config')


class ForkServer:
    """scripts/forkserver.py run by one LMCache venv's python, owned by this process: it has imported torch and LMCache
    once and forks each LMCache process the fleet starts, which then runs the venv's own entry point as an exec'd
    interpreter would, less the 2 s of CPU of importing torch again (a test run starts some hundred of them)."""

    _lock = threading.Lock()
    _running: t.Dict[t.Tuple[str, t.Tuple[str, ...]], 'ForkServer'] = {}
    _key_locks: t.Dict[t.Tuple[str, t.Tuple[str, ...]], threading.Lock] = {}

    def __init__(self, python: str, modules: t.Tuple[str, ...]) -> None:
        self.directory = tempfile.mkdtemp(prefix='lmcache-forkserver-')
        self.socket_path = os.path.join(self.directory, 'socket')
        self.log_path = os.path.join(self.directory, 'forkserver.log')
        home = os.path.join(self.directory, 'home')
        os.makedirs(home)
        with open(self.log_path, 'ab') as log:
            self.process = subprocess.Popen([python, os.path.join(HERE, 'forkserver.py'), self.socket_path] + list(modules),
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            env=lmcache_env(home), cwd=self.directory, start_new_session=True)
        ready = select.select([self.process.stdout], [], [], 120)[0] and self.process.stdout.readline()
        if ready != b'ready\n':
            self.stop()
            raise RuntimeError('the fork server of %s did not start; log:\n%s' % (python, log_tail(self.log_path)))

    @classmethod
    def of(cls, python: str, modules: t.Tuple[str, ...]) -> 'ForkServer':
        with cls._lock:
            key_lock = cls._key_locks.setdefault((python, modules), threading.Lock())
        # One lock per fork server: those of other venvs start meanwhile.
        with key_lock:
            server = cls._running.get((python, modules))
            if server is None or server.process.poll() is not None:
                server = cls._running[(python, modules)] = cls(python, modules)
                atexit.register(server.stop)
            return server

    def start(self, command: t.List[str], env: t.Dict[str, str], cwd: str, log_path: str, status_path: str) -> int:
        """Fork one process running `command`; returns its pid (it writes its exit code to `status_path`)."""
        request = {'argv': command, 'env': env, 'cwd': cwd, 'log': log_path, 'status': status_path}
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(30)
            connection.connect(self.socket_path)
            connection.sendall(json.dumps(request).encode() + b'\n')
            answer = json.loads(connection.makefile('rb').readline() or b'{}')
        if 'pid' not in answer:
            raise RuntimeError('the fork server did not start %s: %s' % (command, answer.get('error', 'no answer')))
        return int(answer['pid'])

    def stop(self) -> None:
        """Its stdin closed, it exits; the processes it started live on."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def launch(command: t.List[str], workdir: str, log_path: str, status_path: t.Optional[str] = None) -> int:
    """Start an LMCache process (command[0] is in its venv's bin) in its own session, with its own HOME and a log, from
    the venv's fork server; returns its pid. It writes its exit code to `status_path` (default: the log's path +
    .status)."""
    home = os.path.join(workdir, 'home')
    os.makedirs(home, exist_ok=True)
    # What the CLI's servers and bench client import (2-4 s of CPU); a launcher script (0.4.4's, which stubs
    # torch.cuda.init before LMCache is imported) gets torch only.
    modules = ('torch',) if os.path.basename(command[0]).startswith('python') else PRELOADED
    server = ForkServer.of(os.path.join(os.path.dirname(command[0]), 'python'), modules)
    return server.start(command, lmcache_env(home), workdir, log_path, status_path or log_path + '.status')


def log_tail(path: t.Optional[str], lines: int = 30) -> str:
    try:
        with open(path or '', errors='replace') as log:
            return ''.join(log.readlines()[-lines:])
    except OSError:
        return '(no log)'


def wait_until_healthy(url: str, pid: int, what: str, log_path: t.Optional[str] = None, timeout: float = 120.0) -> None:
    """Poll `url` until it answers 200; fail at once, with the log's tail, if the process `pid` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_json('GET', url, timeout=2)[0] == 200:
                return
        except OSError:
            pass
        if not _alive(pid):
            raise RuntimeError('%s exited while starting; log:\n%s' % (what, log_tail(log_path)))
        time.sleep(0.5)
    raise RuntimeError('%s not healthy after %ss; log:\n%s' % (what, timeout, log_tail(log_path)))


def is_g1(version: str) -> bool:
    return version.startswith('0.4.') and int(version.split('.')[2].split('rc')[0]) <= 4


# The standalone LMCache engine's KV layout (layers, K and V, chunk tokens, heads, head size): one chunk is 128 KiB.
ENGINE_KV_SHAPE = '2,2,256,4,16'
ENGINE_MODEL = 'engine-model'


@dataclass
class Node:
    """One genuine LMCache MP server, or (kind engine) one LMCache engine as vLLM embeds it, run CPU-only by LMCache's
    own standalone starter (python -m lmcache.v1.standalone) with its internal API server: worker 0 of a pod whose
    port start is http_port - 1."""

    name: str
    version: str
    workdir: str
    kind: str = 'server'
    http_port: int = 0
    zmq_port: int = 0
    l1_size_gb: float = 0.1
    pid: int = 0
    extra_args: t.List[str] = field(default_factory=list)
    # Set to register with a coordinator (0.5.6): event reporting on, and an fs L2 adapter in workdir.
    coordinator_url: str = ''
    # 0.5.7 and later: the API key the node requires (empty: none).
    api_key: str = ''
    prometheus_port: int = 0
    # A bench client kept attached as a serving engine (attach_engine), stopped with the node.
    engine_pid: int = 0
    # Whether this start picked the node's ports itself (free_port), and so may pick others.
    ports_picked: bool = False

    @property
    def url(self) -> str:
        return 'http://%s:%d' % (LOOPBACK, self.http_port)

    @property
    def api_prefix(self) -> str:
        return '/api' if is_g1(self.version) else ''

    @property
    def health_path(self) -> str:
        return '/periodic-threads-health' if self.kind == 'engine' else self.api_prefix + '/healthcheck'

    @property
    def log_path(self) -> str:
        return os.path.join(self.workdir, '%s.log' % self.name)

    @property
    def l2_dir(self) -> str:
        return os.path.join(self.workdir, '%s-l2' % self.name)

    def command(self, venv: str) -> t.List[str]:
        if self.kind == 'engine':
            return self._engine_command(venv)
        common = ['--host', LOOPBACK, '--port', str(self.zmq_port), '--http-host', LOOPBACK,
                  '--http-port', str(self.http_port), '--l1-size-gb', str(self.l1_size_gb), '--eviction-policy', 'LRU']
        if self.coordinator_url:
            os.makedirs(self.l2_dir, exist_ok=True)
            common += ['--instance-id', self.name, '--coordinator-url', self.coordinator_url,
                       '--coordinator-advertise-ip', LOOPBACK, '--coordinator-event-reporting',
                       '--coordinator-heartbeat-interval', '2',
                       '--l2-adapter', json.dumps({'type': 'fs', 'base_path': self.l2_dir})]
        if self.version.startswith('0.5.7'):
            # Each 0.5.7 node serves its own Prometheus port (default 9090).
            self.prometheus_port = self.prometheus_port or free_port()
            common += ['--prometheus-port', str(self.prometheus_port)]
            if self.api_key:
                key_file = os.path.join(self.workdir, '%s.key' % self.name)
                with open(key_file, 'w') as handle:
                    handle.write(self.api_key + '\n')
                os.chmod(key_file, 0o600)
                common += ['--api-key-file', key_file]
        if is_g1(self.version):
            # 0.4.1 - 0.4.4 need a GPU unless torch.cuda.init is stubbed: a launcher does that.
            return [os.path.join(venv, 'bin', 'python'), os.path.join(HERE, 'g1_launcher.py')] + common + [
                '--no-l1-use-lazy', '--disable-metrics'] + self.extra_args
        return [os.path.join(venv, 'bin', 'lmcache'), 'server'] + common + self.extra_args

    def _engine_command(self, venv: str) -> t.List[str]:
        config = os.path.join(self.workdir, '%s.yaml' % self.name)
        with open(config, 'w') as handle:
            handle.write('chunk_size: 256\nlocal_cpu: true\nmax_local_cpu_size: %s\ninternal_api_server_enabled: true\n'
                         'internal_api_server_host: %s\ninternal_api_server_port_start: %d\n'
                         % (self.l1_size_gb, LOOPBACK, self.http_port - 1))
        return [os.path.join(venv, 'bin', 'python'), os.path.join(HERE, 'engine_launcher.py'), '--config', config,
                '--model-name', ENGINE_MODEL, '--kv-shape', ENGINE_KV_SHAPE] + self.extra_args

    def start(self) -> None:
        venv = ensure_venv(self.version)
        self.ports_picked = not (self.http_port and self.zmq_port)
        self.http_port = self.http_port or free_port()
        self.zmq_port = self.zmq_port or free_port()
        self.pid = launch(self.command(venv), self.workdir, self.log_path)

    def wait_healthy(self, timeout: float = 120.0, port_retries: int = 2) -> None:
        try:
            wait_until_healthy(self.url + self.health_path, self.pid,
                               'LMCache %s (%s)' % (self.version, self.name), self.log_path, timeout)
        except RuntimeError as error:
            # free_port() lets go of the port it found: another process of the machine (a test stage running at the
            # same time) can bind it before the server does. Then start again on other ports, if this start picked them.
            if not (self.ports_picked and port_retries > 0 and 'address already in use' in str(error).lower()):
                raise
            self.http_port = self.zmq_port = self.prometheus_port = 0
            self.start()
            self.wait_healthy(timeout, port_retries - 1)

    def status(self) -> t.Dict[str, t.Any]:
        status, body = http_json('GET', self.url + self.api_prefix + '/status', api_key=self.api_key)
        if status != 200:
            raise RuntimeError('GET %s/status: HTTP %s %s' % (self.url, status, body))
        return body

    def l1_objects(self) -> int:
        if self.kind == 'engine':
            status, text = http_json('GET', self.url + '/metrics')
            counts = [line.rsplit(None, 1)[1] for line in str(text).splitlines()
                      if line.startswith('lmcache:local_cpu_hot_cache_count')]
            if status != 200 or len(counts) != 1:
                raise RuntimeError('GET %s/metrics: HTTP %s, no local_cpu_hot_cache_count' % (self.url, status))
            return int(float(counts[0]))
        return int(self.status()['storage_manager']['l1_manager']['total_object_count'])

    def store(self, sequences: int = 2, first: int = 0) -> None:
        """An engine: store `sequences` sequences of 512 mock tokens each (2 chunks) through its own POST /cache/store."""
        for sequence in range(first, first + sequences):
            start = sequence * 1000
            status, body = http_json('POST', self.url + '/cache/store?tokens_mock=%d,%d' % (start, start + BENCH_TOKENS))
            if status != 200 or not isinstance(body, dict) or body.get('status') != 'success':
                raise RuntimeError('POST %s/cache/store: HTTP %s %s' % (self.url, status, body))

    def _bench(self, first: int, last: t.Optional[int], num_tokens: int, interval: float) -> t.List[str]:
        if is_g1(self.version):
            raise RuntimeError('LMCache %s cannot be filled on a CPU-only machine' % self.version)
        venv = ensure_venv(self.version)
        command = [os.path.join(venv, 'bin', 'lmcache'), 'bench', 'server', '--mode', 'cpu',
                   '--transfer-mode', 'lmcache_driven', '--rpc-url', 'tcp://%s:%d' % (LOOPBACK, self.zmq_port),
                   '--url', self.url, '--num-tokens', str(num_tokens), '--start', str(first),
                   '--interval', str(interval), '--kvcache-shape-spec', '(2,64,16,8,128):float16:4', '--num-blocks', '64', '-q']
        return command + (['--end', str(last)] if last is not None else [])

    def fill(self, sequences: int = 2, first: int = 0, num_tokens: int = BENCH_TOKENS, timeout: float = 300.0) -> None:
        """Store real KV data with LMCache's own bench client: `sequences` x num_tokens // 256 chunks (an engine
        stores them itself)."""
        if self.kind == 'engine':
            self.store(sequences, first)
            return
        handle, log_path = tempfile.mkstemp(prefix='%s-fill-' % self.name, suffix='.log', dir=self.workdir)
        os.close(handle)
        status_path = log_path + '.status'
        pid = launch(self._bench(first, first + sequences, num_tokens, 0.1), self.workdir, log_path, status_path)
        deadline = time.monotonic() + timeout
        while _alive(pid):
            if time.monotonic() > deadline:
                _terminate(pid)
                release_bench_memory(pid)
                raise RuntimeError('bench client not done after %ds; log:\n%s' % (timeout, log_tail(log_path)))
            time.sleep(0.05)
        release_bench_memory(pid)
        try:
            with open(status_path) as status:
                code = int(status.read())
        except (OSError, ValueError):
            code = -1
        if code != 0:
            raise RuntimeError('bench client failed (exit %d); log:\n%s' % (code, log_tail(log_path, 60)))

    def attach_engine(self, num_tokens: int = BENCH_TOKENS, timeout: float = 180.0) -> None:
        """Keep a bench client attached, as a serving engine would be: the node then knows the model's KV layout, which
        a prefetch needs. It stores one sequence of its own (number 1000) at once, waited for here so that it does not
        land in the middle of a test, and then idles (a day between requests)."""
        before = self.l1_objects()
        log_path = os.path.join(self.workdir, '%s-engine.log' % self.name)
        self.engine_pid = launch(self._bench(1000, None, num_tokens, 86400), self.workdir, log_path)
        deadline = time.monotonic() + timeout
        while self.l1_objects() < before + num_tokens // 256:
            if time.monotonic() > deadline or not _alive(self.engine_pid):
                raise RuntimeError('the engine attached to %s stored nothing within %ds; its log: %s'
                                   % (self.name, timeout, log_path))
            time.sleep(0.5)

    def stop(self) -> None:
        if self.engine_pid:
            _terminate(self.engine_pid)
            release_bench_memory(self.engine_pid)
            self.engine_pid = 0
        if not self.pid:
            return
        _terminate(self.pid)
        self.pid = 0


def release_bench_memory(pid: int) -> None:
    """LMCache's bench client names its shared memory after its pid (/dev/shm/lmcache_kv_PID_N) and leaves it behind
    when it is stopped: a later client that gets the same pid then fails with "File exists". Remove what the client
    `pid`, now gone, left."""
    for path in glob.glob('/dev/shm/lmcache_kv_%d_*' % pid):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _alive(pid: int) -> bool:
    try:
        waited, _status = os.waitpid(pid, os.WNOHANG)
        if waited == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _terminate(pid: int, grace: float = 15.0) -> None:
    _terminate_all([pid], grace)


def _terminate_all(pids: t.Iterable[int], grace: float = 15.0) -> None:
    """SIGTERM the servers' process groups together, SIGKILL those still there after `grace` seconds: a fleet stops in
    the time of its slowest server, not of all of them in turn."""
    live = []
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGTERM)
            live.append(pid)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while live and time.monotonic() < deadline:
        live = [pid for pid in live if _alive(pid)]
        if live:
            time.sleep(0.2)
    for pid in live:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@dataclass
class Coordinator:
    """A genuine LMCache coordinator (0.5.6): instances, chunk directory, L2 pins, targeted deletes."""

    workdir: str
    version: str = '0.5.6'
    port: int = 0
    pid: int = 0

    @property
    def url(self) -> str:
        return 'http://%s:%d' % (LOOPBACK, self.port)

    def start(self) -> None:
        venv = ensure_venv(self.version)
        self.port = self.port or free_port()
        command = [os.path.join(venv, 'bin', 'lmcache'), 'coordinator', '--host', LOOPBACK, '--port', str(self.port),
                   '--metadata-path', os.path.join(self.workdir, 'coordinator-metadata.json')]
        self.pid = launch(command, self.workdir, self.log_path)

    @property
    def log_path(self) -> str:
        return os.path.join(self.workdir, 'coordinator.log')

    def wait_healthy(self, timeout: float = 120.0) -> None:
        wait_until_healthy(self.url + '/healthz', self.pid, 'LMCache coordinator %s' % self.version, self.log_path, timeout)

    def wait_registered(self, names: t.Iterable[str], timeout: float = 60.0) -> None:
        wanted = set(names)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            instances = http_json('GET', self.url + '/instances')[1].get('instances', [])
            if wanted <= {instance['instance_id'] for instance in instances}:
                return
            time.sleep(0.5)
        raise RuntimeError('instances %s did not register with the coordinator' % sorted(wanted))

    def stop(self) -> None:
        if self.pid:
            _terminate(self.pid)
            self.pid = 0


class Fleet:
    """Several nodes started together; usable as a context manager."""

    def __init__(self, workdir: t.Optional[str] = None) -> None:
        self.workdir = workdir or tempfile.mkdtemp(prefix='lmcache-fleet-')
        self.nodes: t.Dict[str, Node] = {}
        self.coordinator: t.Optional[Coordinator] = None
        # Other processes the fleet owns (a reference server), stopped with it: name -> [pid, url]
        self.others: t.Dict[str, t.List[t.Any]] = {}

    @classmethod
    def fresh(cls, workdir: str) -> 'Fleet':
        """A fleet in `workdir`, emptied first: the L2 files of an earlier fleet that was never stopped would make the
        nodes find their bench sequences in L2 instead of storing them, and start with an empty L1."""
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        return cls(workdir)

    def add_coordinator(self, version: str = '0.5.6') -> Coordinator:
        """A coordinator that the nodes added after it register with."""
        self.coordinator = Coordinator(self.workdir, version=version)
        self.coordinator.port = free_port()
        return self.coordinator

    def add(self, name: str, version: str, **options: t.Any) -> Node:
        if self.coordinator is not None and options.get('kind', 'server') == 'server':
            options.setdefault('coordinator_url', self.coordinator.url)
        node = Node(name=name, version=version, workdir=self.workdir, **options)
        self.nodes[name] = node
        return node

    def start(self) -> 'Fleet':
        """Start the coordinator and the nodes; when any fails, stop what did start (`with` runs no __exit__ then)."""
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> 'Fleet':
        if self.coordinator is not None:
            self.coordinator.start()
            self.coordinator.wait_healthy()
        # Build the releases' venvs one after another: uv then links each package they share from one copy in its
        # cache (built side by side from an empty cache, each unpacks its own copy: 0.6 GB more for the demo's fleet).
        for version in dict.fromkeys(node.version for node in self.nodes.values()):
            ensure_venv(version)
        # Start every node first (the fork servers of their releases start side by side), then wait: they boot in
        # parallel.
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(self.nodes))) as pool:
            for started in [pool.submit(node.start) for node in self.nodes.values()]:
                started.result()
        for node in self.nodes.values():
            node.wait_healthy()
        if self.coordinator is not None:
            self.coordinator.wait_registered(name for name, node in self.nodes.items() if node.coordinator_url)
        return self

    def fill(self, nodes: t.List['Node'], sequences: int) -> None:
        """Fill the nodes with the bench client, all at once (each client a process of its own)."""
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(nodes))) as pool:
            for done in [pool.submit(node.fill, sequences) for node in nodes]:
                done.result()

    def stop(self) -> None:
        pids = [pid for node in self.nodes.values() for pid in (node.engine_pid, node.pid) if pid]
        pids += [self.coordinator.pid] if self.coordinator is not None and self.coordinator.pid else []
        pids += [pid for pid, _url in self.others.values()]
        _terminate_all(pids)
        for node in self.nodes.values():
            if node.engine_pid:
                release_bench_memory(node.engine_pid)
            node.engine_pid = node.pid = 0
        if self.coordinator is not None:
            self.coordinator.pid = 0
        self.others = {}

    def __enter__(self) -> 'Fleet':
        return self.start()

    def __exit__(self, *exc_info: t.Any) -> None:
        self.stop()

    def write_inventory(self, path: str, group: str = 'lmcache') -> None:
        """An Ansible inventory (JSON is YAML) with one local host per node and its `lmcache_url`."""
        hosts = {name: {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                        'lmcache_url': node.url, 'lmcache_version': node.version}
                 for name, node in self.nodes.items()}
        for name, node in self.nodes.items():
            if node.api_key:
                # A local test fleet's key, in a file only its owner reads; a real inventory vaults it.
                hosts[name]['lmcache_api_key'] = node.api_key
        group_vars = {'lmcache_coordinator_url': self.coordinator.url} if self.coordinator else {}
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as inventory:
            json.dump({'all': {'children': {group: {'hosts': hosts, 'vars': group_vars}}}}, inventory, indent=2)

    def save(self, path: str) -> None:
        # It holds the nodes' API keys: only its owner reads it.
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), 'w') as state:
            json.dump({'workdir': self.workdir, 'nodes': [asdict(node) for node in self.nodes.values()],
                       'coordinator': asdict(self.coordinator) if self.coordinator else None, 'others': self.others},
                      state, indent=2)

    @classmethod
    def load(cls, path: str) -> 'Fleet':
        with open(path) as state:
            data = json.load(state)
        fleet = cls(data['workdir'])
        if data.get('coordinator'):
            fleet.coordinator = Coordinator(**data['coordinator'])
        for fields in data['nodes']:
            fleet.nodes[fields['name']] = Node(**fields)
        fleet.others = data.get('others') or {}
        return fleet


def main(argv: t.Optional[t.List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)
    up = commands.add_parser('up', help='start nodes, wait until healthy, optionally fill them, write the state file')
    up.add_argument('--state', required=True, help='JSON file describing the started fleet')
    up.add_argument('--fill', type=int, default=0, help='bench sequences to store on each node that can take data')
    up.add_argument('--inventory', help='also write an Ansible inventory of the nodes (group lmcache) to this file')
    up.add_argument('--coordinator', action='store_true', help='also start a coordinator (0.5.6)')
    up.add_argument('--register', action='append', default=[], metavar='NAME',
                    help='register this node with the coordinator (event reporting, fs L2); repeatable')
    up.add_argument('--api-key', action='append', default=[], metavar='NAME',
                    help='start this node (0.5.7 and later) with a random API key, written to the inventory; repeatable')
    up.add_argument('nodes', nargs='+', metavar='NAME=VERSION[:engine]',
                    help='a node of that LMCache release; with :engine, an engine as vLLM embeds it (0.5.6)')
    down = commands.add_parser('down', help='stop the nodes of a state file')
    down.add_argument('--state', required=True)
    fill = commands.add_parser('fill', help='store bench sequences on the running nodes that can take data')
    fill.add_argument('--state', required=True)
    fill.add_argument('--sequences', type=int, default=2)
    args = parser.parse_args(argv)

    if args.command == 'fill':
        for node in Fleet.load(args.state).nodes.values():
            if not is_g1(node.version):
                node.fill(args.sequences)
        return 0

    if args.command == 'down':
        if os.path.exists(args.state):
            Fleet.load(args.state).stop()
            os.unlink(args.state)
        return 0

    if os.path.exists(args.state):
        # A fleet recorded there and never stopped: stop it before its directory is reused.
        Fleet.load(args.state).stop()
    fleet = Fleet.fresh(os.path.join(os.path.dirname(os.path.abspath(args.state)), 'fleet'))
    if args.coordinator:
        fleet.add_coordinator()
    for spec in args.nodes:
        name, _sep, version = spec.partition('=')
        version, _colon, kind = version.partition(':')
        # Only the nodes named with --register take part in the coordinator's fleet.
        fleet.add(name, version, kind=kind or 'server',
                  coordinator_url=fleet.coordinator.url if name in args.register and fleet.coordinator else '',
                  api_key=secrets.token_urlsafe(24) if name in args.api_key else '')
    try:
        fleet.start()
        if args.fill:
            fleet.fill([node for node in fleet.nodes.values() if not is_g1(node.version)], args.fill)
    except Exception:
        fleet.stop()
        raise
    fleet.save(args.state)
    if args.inventory:
        fleet.write_inventory(args.inventory)
    if fleet.coordinator:
        print('coordinator %s' % fleet.coordinator.url)
    for node in fleet.nodes.values():
        kind = ' engine' if node.kind == 'engine' else ''
        print('%s LMCache %s%s %s%s' % (node.name, node.version, kind, node.url, ' (API key required)' if node.api_key else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
