# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A TCP relay on loopback that counts the round trips a client makes to a server behind it."""

from __future__ import annotations

import socket
import threading
import typing as t
from urllib.parse import urlsplit


class RoundTrips:
    """Relays every connection to `url`'s server and counts round trips: each time a client sends after it was
    answered (or for the first time on a connection). A client that sends several requests before reading makes one."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.target = (parts.hostname or '127.0.0.1', parts.port or 80)
        self.count = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(('127.0.0.1', 0))
        self._listener.listen(16)
        self.url = 'http://127.0.0.1:%d%s' % (self._listener.getsockname()[1], parts.path)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            answered = [True]
            threading.Thread(target=self._pump, args=(client, server, answered, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, answered, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, answered: t.List[bool], from_client: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                with self._lock:
                    if from_client and answered[0]:
                        self.count += 1
                    answered[0] = not from_client
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._listener.close()
