# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A scripted HTTP server on loopback: the unit tests drive the real requests stack against it."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Bound now: tests replace time.sleep to skip the client's backoff, not the server's scripted delays.
_sleep = time.sleep


# /openapi.json route lists of real servers (see ../shared/reference and release-routes.txt), trimmed to what matters.
ROUTES = {
    'G1': ['/', '/api/healthcheck', '/api/status', '/api/clear-cache'],
    'G2': ['/', '/healthcheck', '/status', '/clear-cache', '/version', '/conf', '/metrics', '/l2/adapters', '/l2/keys',
           '/quota', '/periodic-threads-health', '/loglevel'],
    'G3': ['/', '/healthcheck', '/status', '/cache/clear', '/cache/objects', '/cache/prefetches', '/version', '/config',
           '/config/adapters', '/metrics', '/quota', '/periodic-threads-health', '/loglevel'],
}


# Methods of the routes that are not GET-only, as their servers publish them.
METHODS = {
    '/cache/clear': ('post',), '/clear-cache': ('post',), '/api/clear-cache': ('post',), '/cache/prefetches': ('post',),
    '/cache/objects': ('get', 'delete'), '/pin': ('post', 'delete'), '/api/pin': ('post', 'delete'),
    '/run_script': ('post',), '/compress': ('post',), '/api/compress': ('post',), '/kvcache-clear': ('post',), '/api/kvcache-clear': ('post',),
}


def openapi(generation: str, extra: t.Iterable[str] = ()) -> t.Dict[str, t.Any]:
    return {'openapi': '3.1.0', 'info': {'title': 'LMCache HTTP API', 'version': '1.0.0'},
            'paths': {path: dict((method, {}) for method in METHODS.get(path, ('get',)))
                      for path in list(ROUTES[generation]) + list(extra)}}


def status_body(objects: int = 0, bytes_per_object: int = 4194304, total: int = 1073741824) -> t.Dict[str, t.Any]:
    """A /status body shaped like a real 0.5.6 server's."""
    used = objects * bytes_per_object
    l1 = {'is_healthy': True, 'total_object_count': objects, 'memory_used_bytes': used, 'memory_total_bytes': total,
          'memory_usage_ratio': float(used) / total}
    return {'is_healthy': True, 'chunk_size': 256, 'active_sessions': 1,
            'storage_manager': {'l1_manager': l1, 'l1_managers': {'_default': l1},
                                'l1_eviction_controller': {'trigger_watermark': 0.8},
                                'l2_adapters': []}}


METRICS_TYPE = 'text/plain; version=0.0.4; charset=utf-8'


class Answer:
    """A scripted answer; `delay` seconds before it, or `drop` the connection without one (after the delay)."""

    def __init__(self, status: int = 200, body: t.Any = None, headers: t.Optional[t.Dict[str, str]] = None,
                 text: t.Optional[str] = None, content_type: str = 'application/json', delay: float = 0.0,
                 drop: bool = False) -> None:
        self.status = status
        self.delay = delay
        self.drop = drop
        self.headers = dict(headers or {})
        self.payload = (text if text is not None else json.dumps(body)).encode()
        self.headers.setdefault('Content-Type', content_type)


class FakeServer:
    """Answers (method, path) from a script; a list of answers is used in order, its last one repeated."""

    def __init__(self, port: int = 0) -> None:
        self.script: t.Dict[t.Tuple[str, str], t.List[Answer]] = {}
        self.requests: t.List[t.Dict[str, t.Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get('Content-Length') or 0)
                raw = self.rfile.read(length) if length else b''
                path = self.path.split('?')[0]
                if '://' in path:
                    # A proxy's request carries the absolute URL.
                    path = '/' + path.split('/', 3)[3] if path.count('/') >= 3 else '/'
                server.requests.append({'method': self.command, 'path': path, 'target': self.path,
                                        'headers': dict(self.headers), 'body': json.loads(raw) if raw else None})
                answers = server.script.get((self.command, path))
                answer = (answers.pop(0) if len(answers) > 1 else answers[0]) if answers else Answer(404, {'detail': 'Not Found'})
                if answer.delay:
                    _sleep(answer.delay)
                if answer.drop:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                    self.close_connection = True
                    return
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header('Content-Length', str(len(answer.payload)))
                self.end_headers()
                self.wfile.write(answer.payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

            def log_message(self, *args: t.Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', port), Handler)
        self.url = 'http://127.0.0.1:%d' % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={'poll_interval': 0.01}, daemon=True)
        self.thread.start()

    def on(self, method: str, path: str, *answers: Answer) -> 'FakeServer':
        self.script[(method, path)] = list(answers)
        return self

    def lmcache(self, generation: str = 'G3', objects: int = 4, version: str = '0.5.6-g3e11e108',
                extra_routes: t.Iterable[str] = ()) -> 'FakeServer':
        """Script a healthy LMCache server of one generation holding `objects` L1 objects; a clear empties it."""
        prefix = '/api' if generation == 'G1' else ''
        clear = {'G1': '/api/clear-cache', 'G2': '/clear-cache', 'G3': '/cache/clear'}[generation]
        self.on('GET', '/openapi.json', Answer(body=openapi(generation, extra_routes)))
        self.on('GET', prefix + '/healthcheck', Answer(body={'status': 'healthy'}))
        self.on('GET', prefix + '/status', Answer(body=status_body(objects)), Answer(body=status_body(0)))
        self.on('POST', clear, Answer(body={'status': 'ok', 'cleared': {'tier': 'l1'}} if generation == 'G3' else {'status': 'ok'}))
        if generation != 'G1':
            self.on('GET', '/version', Answer(body=version))
            self.on('GET', '/quota', Answer(body={'users': {}}))
            self.on('GET', '/periodic-threads-health', Answer(body={'healthy': True, 'unhealthy_count': 0, 'unhealthy_threads': []}))
        if generation == 'G3':
            self.on('GET', '/config/adapters', Answer(body={'adapters': []}))
        if '/metrics' in ROUTES[generation]:
            # A node that has looked nothing up yet: OpenTelemetry shows a counter from its first increment.
            self.on('GET', '/metrics', Answer(text='lmcache_mp_l1_eviction_loop_ticks_total 3.0\n', content_type=METRICS_TYPE))
        return self

    def sent(self, method: str, path: str) -> t.List[t.Dict[str, t.Any]]:
        return [r for r in self.requests if r['method'] == method and r['path'] == path]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
