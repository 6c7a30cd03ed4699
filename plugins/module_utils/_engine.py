# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The LMCache engine inside vLLM (LMCacheConnectorV1), through its internal API server: what it answers, read as the
untrusted data it is.

The engine has no /healthcheck and no /status. Its health is its periodic threads' (/periodic-threads-health, which
0.5.6 and later servers answer too); its L1 is the local CPU backend, whose objects its /metrics count
(lmcache:local_cpu_hot_cache_count), each one chunk of the KV shape its /meta gives, and whose size its /conf gives
(max_local_cpu_size, in GiB). Its model and place in a vLLM pod are its /meta; the state an operator may declare is freeze (stores
skipped, only the local CPU backend serves), hot cache (the local CPU backend keeps what it stores), the bypassed
backends, and the configuration keys it reads at runtime.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import math
import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._answers import (
    MISSING,
    field,
    read_count,
    read_list,
    read_number,
    read_string,
    unreadable,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient, LMCacheError, Reply, server_error_text
from ansible_collections.lmcache.kvcache.plugins.module_utils._metrics import parse
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import L1Usage, ServerStatus
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import Untrusted, path_segment, plain_json

GIB = 1024 ** 3
L1_OBJECTS = 'lmcache:local_cpu_hot_cache_count'
# The configuration keys an engine reads on each request (LMCache 0.5.x), so that a runtime change (POST /conf) takes
# effect. The engine takes any key there, but reads the others once, when it starts: changing them at runtime reports
# them updated while nothing changes (retrieve_locations, store_location, hit_miss_ratio, pin_timeout_sec are copied
# at start; sizes, ports and backends are set up then).
RUNTIME_CONFIG = ('blocking_timeout_secs', 'lookup_timeout_ms', 'min_retrieve_tokens', 'priority_limit',
                  'save_decode_cache', 'save_unfull_chunk')
# What an engine's /meta says about its model and its place in a vLLM pod.
META_FIELDS = ('model_name', 'served_model_name', 'role', 'worker_id', 'local_worker_id', 'world_size',
               'local_world_size', 'chunk_size', 'kv_shape', 'kv_dtype', 'use_mla')
# The engine states an operator declares, each a route pair and the field of its status answer.
FLAGS = {'freeze': 'freeze', 'hot_cache': 'hot_cache'}
THREADS_PATH = '/periodic-threads-health'
# The configuration keys that size the engine's L1.
L1_CONFIG = ('local_cpu', 'max_local_cpu_size')


# LMCache counts a running periodic thread not active once its last run is more than three intervals ago. For its 5 ms
# drain thread (DeviceHostFuncDispatcher) that is 15 ms, which a loaded host's scheduler or a garbage collection pause
# exceeds while nothing is wrong. The collection counts such a thread not active only when its last run is also at least
# this long ago, or it never ran: a stuck or dead loop, not a late one.
THREAD_STALL_SECONDS = 1.0


def periodic_threads(client: LMCacheClient) -> t.Dict[str, t.Any]:
    """GET /periodic-threads-health (an engine, and LMCache servers from 0.5.0): {healthy, unhealthy: [names], late:
    [names]}, healthy unless a critical or high-level periodic thread that runs is not active (its loop died or is
    stuck: it has not run for THREAD_STALL_SECONDS); a thread the node names that ran within that time is late."""
    reply = client.request('GET', THREADS_PATH)
    body = reply.json_object()
    healthy = field(body, 'healthy')
    if not isinstance(healthy, bool):
        raise unreadable(reply, 'healthy', healthy, 'true or false')
    stuck, late = [], []
    for number, thread in enumerate(read_list(reply, body, 'unhealthy_threads', optional=True)):
        where = 'unhealthy_threads[%d]' % number
        name = t.cast(str, read_string(reply, thread, 'name', name=where + '.name'))
        ago = read_number(reply, thread, 'last_run_ago', optional=True, name=where + '.last_run_ago')
        (late if ago is not None and ago < THREAD_STALL_SECONDS else stuck).append(name)
    # A node that says it is not healthy without naming a thread stays not healthy.
    return dict(healthy=not stuck and (healthy or bool(late)), unhealthy=sorted(stuck), late=sorted(late))


def threads_reason(threads: t.Mapping[str, t.Any]) -> t.Optional[str]:
    """Why periodic threads make a node unhealthy, naming them; None when they are healthy."""
    if threads['healthy']:
        return None
    return 'periodic threads not active: %s' % (', '.join(threads['unhealthy']) or 'none named')


def status(client: LMCacheClient) -> ServerStatus:
    """The engine's L1 (its local CPU backend): the objects its /metrics counts, each one chunk of the KV shape and
    type its /meta gives, in the size its /conf gives. (Its lmcache:local_cache_usage counts the allocator's bytes,
    which lag the objects: a clear frees them when the last reader lets go.)"""
    metrics = client.request('GET', '/metrics')
    try:
        samples = parse(metrics.text, (L1_OBJECTS,))
    except Untrusted as exc:
        raise LMCacheError('GET %s: cannot read the engine\'s L1: %s' % (metrics.url, exc))
    if L1_OBJECTS not in samples:
        raise LMCacheError('GET %s: the engine exports no %s, so its L1 cannot be read' % (metrics.url, L1_OBJECTS))
    objects = int(sum(value for _labels, value in samples[L1_OBJECTS]))
    conf = config(client, L1_CONFIG)
    size = conf.get('max_local_cpu_size')
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not size >= 0:
        raise LMCacheError('GET %s/conf: cannot read max_local_cpu_size: %r, expected a size in GiB'
                           % (client.display_url, size))
    total = int(size * GIB) if conf.get('local_cpu') is not False else 0
    layout = meta(client)
    used = objects * chunk_bytes(layout, client.display_url)
    return ServerStatus(chunk_size=layout['chunk_size'], active_sessions=None,
                        l1=L1Usage(objects, used, total, float(used) / total if total else None),
                        eviction_watermark=None, l2_adapters=[])


# Bytes per element of the KV cache types LMCache stores (its /meta's kv_dtype).
DTYPE_BYTES = {'torch.float32': 4, 'torch.float16': 2, 'torch.bfloat16': 2, 'torch.float8_e4m3fn': 1,
               'torch.float8_e5m2': 1, 'torch.uint8': 1, 'torch.int8': 1}


def chunk_bytes(layout: t.Mapping[str, t.Any], where: str) -> int:
    """The bytes of one chunk's KV cache: the product of the engine's kv_shape (layers, K and V, the chunk's tokens,
    heads, head size) times its type's size."""
    shape, dtype = layout.get('kv_shape'), layout.get('kv_dtype')
    if not shape or dtype not in DTYPE_BYTES:
        raise LMCacheError('%s/meta: cannot tell the size of a chunk from kv_shape %r and kv_dtype %r'
                           % (where, shape, dtype))
    size = DTYPE_BYTES[t.cast(str, dtype)]
    for dimension in shape:
        size *= dimension
    return size


def clear(client: LMCacheClient) -> None:
    """DELETE /cache/clear: every object of every backend (it answers the tokens removed, which are not a count of
    what left L1: the caller reads the engine before and after)."""
    reply = client.request('DELETE', '/cache/clear')
    _succeeded(reply)


def meta(client: LMCacheClient) -> t.Dict[str, t.Any]:
    """The engine's model and its place in the pod, from GET /meta (JSON sent as text/plain)."""
    reply = client.request('GET', '/meta')
    body = reply.json_object()
    found: t.Dict[str, t.Any] = {}
    for name in META_FIELDS:
        value = field(body, name)
        if value is MISSING:
            found[name] = None
        elif name in ('worker_id', 'local_worker_id', 'world_size', 'local_world_size', 'chunk_size'):
            found[name] = read_count(reply, body, name, optional=True)
        elif name == 'kv_shape':
            found[name] = _counts(reply, value, name) if value is not None else None
        elif name == 'use_mla':
            found[name] = value if isinstance(value, bool) else None
        else:
            found[name] = read_string(reply, body, name, optional=True)
    return found


def flag(client: LMCacheClient, name: str) -> bool:
    """Whether freeze or hot cache is on (GET /freeze/status, /hot_cache/status)."""
    reply = client.request('GET', flag_path(name))
    value = field(reply.json_object(), FLAGS[name])
    if not isinstance(value, bool):
        raise unreadable(reply, FLAGS[name], value, 'true or false')
    return value


def flag_path(name: str) -> str:
    return '/%s/status' % name


def set_flag(client: LMCacheClient, name: str, on: bool) -> None:
    """PUT /freeze/enable or /disable (/hot_cache/...); the engine's answer must say the state asked for."""
    reply = client.request('PUT', '/%s/%s' % (name, 'enable' if on else 'disable'))
    _succeeded(reply)
    if field(reply.body, FLAGS[name]) is not on:
        raise LMCacheError('PUT %s: the engine answered %s=%r, not %r: %s'
                           % (reply.url, FLAGS[name], field(reply.body, FLAGS[name]), on, server_error_text(reply.body, reply.text)))


def bypass(client: LMCacheClient) -> t.Tuple[t.List[str], t.List[str]]:
    """(the bypassed backends, every backend) from GET /bypass/list."""
    reply = client.request('GET', '/bypass/list')
    body = reply.json_object()
    return _names(reply, body, 'bypassed_backends'), _names(reply, body, 'all_backends')


def set_bypass(client: LMCacheClient, backend: str, bypassed: bool) -> None:
    reply = client.request('PUT', '/bypass/%s?backend_name=%s' % ('add' if bypassed else 'remove',
                                                                  path_segment(backend, 'backend name')))
    _succeeded(reply)


def backends(client: LMCacheClient) -> t.List[str]:
    """The names of the engine's storage backends (GET /backends: name -> class)."""
    reply = client.request('GET', '/backends')
    body = reply.json_object()
    return sorted(str(name) for name in body)


def config(client: LMCacheClient, names: t.Optional[t.Sequence[str]] = None, path: str = '/conf') -> t.Dict[str, t.Any]:
    """The running configuration (an engine's GET /conf, all keys or `names`; a server's GET /config or /conf), as
    plain data."""
    reply = client.request('GET', config_path(names, path))
    body = reply.json_object()
    try:
        return dict((str(key), plain_json(_finite(value), 'configuration %s' % key)) for key, value in body.items())
    except Untrusted as exc:
        raise LMCacheError('GET %s: %s' % (reply.url, exc))


def config_path(names: t.Optional[t.Sequence[str]] = None, path: str = '/conf') -> str:
    """The path that reads the configuration, all keys or `names`."""
    return path + ('?names=%s' % ','.join(path_segment(name, 'configuration key') for name in names) if names else '')


def read_paths(config: t.Optional[str]) -> t.List[str]:
    """Every GET path an engine's state (meta, flags, bypassed backends), L1 and, with `config` (its path), its
    configuration are read from, as often as they are read (their order: lmcache_server_info's)."""
    return ['/bypass/list', '/meta'] + [flag_path(name) for name in FLAGS] + ([config] if config else []) + status_paths()


def status_paths() -> t.List[str]:
    """The GET paths status() reads, in its order."""
    return ['/metrics', config_path(L1_CONFIG), '/meta']


def set_config(client: LMCacheClient, values: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """POST /conf with the values; the values the engine says it set. A key it refused fails, naming it (it sets the
    others of the same request: the caller re-reads)."""
    reply = client.request('POST', '/conf', json_body=dict(values), accept=(400,))
    body = reply.json_object()
    errors = field(body, 'errors')
    if reply.status == 400 or (isinstance(errors, dict) and errors):
        refused = server_error_text(errors if isinstance(errors, dict) else body, reply.text)
        raise LMCacheError('POST %s: the engine refused %s' % (reply.url, refused))
    updated = field(body, 'updated')
    return updated if isinstance(updated, dict) else {}


def _names(reply: Reply, body: t.Any, path: str) -> t.List[str]:
    names = read_list(reply, body, path)
    if not all(isinstance(name, str) for name in names):
        raise unreadable(reply, path, names, 'a list of backend names')
    return sorted(names)


def _counts(reply: Reply, value: t.Any, path: str) -> t.List[int]:
    if not isinstance(value, list) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value):
        raise unreadable(reply, path, value, 'a list of whole numbers')
    return list(value)


def _finite(value: t.Any) -> t.Any:
    """A configuration value with its non-finite numbers (LMCache sets some timeouts to Infinity) as the text JSON
    gives them, so that the value is plain data."""
    if isinstance(value, float) and not math.isfinite(value):
        return 'Infinity' if value > 0 else '-Infinity' if value < 0 else 'NaN'
    if isinstance(value, list):
        return [_finite(item) for item in value]
    if isinstance(value, dict):
        return dict((key, _finite(item)) for key, item in value.items())
    return value


def _succeeded(reply: Reply) -> None:
    """The engine's write routes answer 200 with status "success", or 200/500 with status "error" and a message."""
    status = field(reply.body, 'status')
    if status not in (MISSING, 'success'):
        raise LMCacheError('%s %s: the engine answered status %r: %s'
                           % (reply.method, reply.url, status, server_error_text(reply.body, reply.text)))
