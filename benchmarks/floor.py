# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The floor of benchmark T: the requests the fan-out's clear sends to each node (GET /version, GET /status,
POST /cache/clear, GET /status; the route list is fetched once per release and left out here), by the leanest client
one can write: asyncio, one keep-alive connection per node, CONCURRENCY nodes at once.

    python benchmarks/floor.py FLEET.json [CONCURRENCY]    (FLEET.json: the simulated fleet's ready file)
"""

from __future__ import annotations

import asyncio
import json
import sys
import typing as t

CLEAR_BODY = b'{"tier":"l1","force":false}'


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, method: str, host: str, path: str,
                   body: bytes = b'') -> int:
    head = '%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n' % (
        method, path, host, len(body))
    writer.write(head.encode() + body)
    await writer.drain()
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b'\r\n', b''):
            break
        if line.lower().startswith(b'content-length:'):
            length = int(line.split(b':', 1)[1])
    await reader.readexactly(length)
    return int(status.split()[1])


async def clear(url: str, semaphore: asyncio.Semaphore) -> None:
    host = url.split('//', 1)[1]
    address, port = host.rsplit(':', 1)
    async with semaphore:
        reader, writer = await asyncio.open_connection(address, int(port))
        try:
            await exchange(reader, writer, 'GET', host, '/version')
            await exchange(reader, writer, 'GET', host, '/status')
            if await exchange(reader, writer, 'POST', host, '/cache/clear', CLEAR_BODY) != 200:
                raise RuntimeError('%s did not clear' % url)
            await exchange(reader, writer, 'GET', host, '/status')
        finally:
            writer.close()


async def main(urls: t.List[str], concurrency: int) -> None:
    semaphore = asyncio.Semaphore(concurrency)
    await asyncio.gather(*(clear(url, semaphore) for url in urls))


if __name__ == '__main__':
    with open(sys.argv[1]) as handle:
        nodes = [url for _name, url in json.load(handle)['nodes']]
    asyncio.run(main(nodes, int(sys.argv[2]) if len(sys.argv) > 2 else 64))
