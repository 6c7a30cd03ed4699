# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fork server for the LMCache processes of a test fleet: run by an LMCache venv's python, it imports torch and
LMCache once, then forks each process asked of it (a server, a coordinator, the bench client), which runs the venv's
own entry point (bin/lmcache, or a launcher script) with its arguments, environment, directory and log, as an exec'd
interpreter would. Each process so saves the 2 s of CPU that importing torch costs; the code it runs is the same.

Usage (scripts/fleet.py starts it): python forkserver.py SOCKET MODULE...
It imports the MODULEs (those the release has), listens on the Unix socket SOCKET, writes "ready" on stdout, and exits
when its stdin closes (its owner is gone); the processes it started live on. A request is one JSON line: argv, env,
cwd, log (appended to), status (a file the process writes its exit code to); the answer is one JSON line: {"pid": N}
or {"error": "..."}.
"""

from __future__ import annotations

import importlib
import json
import os
import runpy
import select
import signal
import socket
import sys
import typing as t


def serve(listener: socket.socket) -> t.Dict[str, t.Any]:
    """Answer requests until stdin closes (then exit); in a forked child, return the request it is to run."""
    while True:
        readable, _writable, _errors = select.select([listener, sys.stdin], [], [])
        if sys.stdin in readable:
            sys.exit(0)
        connection, _address = listener.accept()
        with connection:
            try:
                request = json.loads(connection.makefile('rb').readline())
                pid = os.fork()
            except (ValueError, OSError) as error:
                connection.sendall((json.dumps({'error': str(error)}) + '\n').encode())
                continue
            if pid == 0:
                listener.close()
                return request
            connection.sendall((json.dumps({'pid': pid}) + '\n').encode())


def run(request: t.Dict[str, t.Any]) -> int:
    """What an exec of request['argv'] would do, in this already-prepared interpreter: its own session, stdio,
    directory, environment and arguments, the script run as __main__. Returns its exit code."""
    # The server reaps nothing itself (SIGCHLD ignored); the process it starts waits for its own children as usual.
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(request['log'], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.chdir(request['cwd'])
    os.environ.clear()
    os.environ.update(request['env'])
    argv = request['argv']
    # bin/lmcache is run by its own python; a launcher script is given after the python that runs it.
    script_argv = argv[1:] if os.path.basename(argv[0]).startswith('python') else argv
    sys.argv = list(script_argv)
    sys.path[0] = os.path.dirname(os.path.abspath(script_argv[0]))
    code: t.Any = 0
    try:
        runpy.run_path(script_argv[0], run_name='__main__')
    except SystemExit as done:
        code = done.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    with open(request['status'], 'w') as status:
        status.write('%d\n' % code)
    return code


def main() -> None:
    socket_path, modules = sys.argv[1], sys.argv[2:]
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as missing:
            # A module that this release does not have is imported by none of its processes either.
            if missing.name != module:
                raise
            print('%s: not in this release' % module, file=sys.stderr)
    # Children are reaped by the kernel: a server that exits is gone at once for whoever watches its pid.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(64)
    print('ready', flush=True)
    request = serve(listener)
    sys.exit(run(request))


if __name__ == '__main__':
    main()
