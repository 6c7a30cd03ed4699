# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A vLLM pod: one scheduler and N workers, each with LMCache's internal API server. The scheduler listens on the
pod's port start, worker i on port start + 1 + i. An operation given the scheduler's URL runs on every worker of the
pod (the scheduler's /meta says how many: local_world_size) and sums up what they did; one given a worker's URL runs
on that worker.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t
from urllib.parse import urlsplit, urlunsplit

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import LMCacheServer

# More workers than this on one host is not a vLLM pod (tensor parallelism of 8 GPUs is 8 workers).
MAX_WORKERS = 64


def worker_urls(node: LMCacheServer) -> t.List[str]:
    """The URLs of the workers of the pod whose scheduler is `node`; [] when it is a worker, or an LMCache server."""
    meta = node.engine_meta()
    if meta is None or meta.get('role') != 'scheduler':
        return []
    count = meta.get('local_world_size') or meta.get('world_size')
    if not isinstance(count, int) or not 1 <= count <= MAX_WORKERS:
        raise LMCacheError('%s/meta: the scheduler of a pod says it has %r workers; expected 1 to %d'
                           % (node.url, count, MAX_WORKERS))
    parts = urlsplit(node.client.base_url)
    port = parts.port or (443 if parts.scheme == 'https' else 80)
    host = parts.netloc.rsplit('@', 1)[-1].rsplit(':', 1)[0] if parts.port else parts.netloc.rsplit('@', 1)[-1]
    return [urlunsplit((parts.scheme, '%s:%d' % (host, port + 1 + number), parts.path, '', '')) for number in range(count)]


def summary(url: str, results: t.Dict[str, t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    """One result for the pod from its workers' results (by URL): changed if any changed, failed if any failed
    (naming them), the counts of a clear summed, health only when every worker is healthy."""
    failed = [worker for worker, result in results.items() if result.get('failed')]
    pod: t.Dict[str, t.Any] = dict(url=url, changed=any(r.get('changed') for r in results.values()),
                                   pod=dict(scheduler=url, workers=list(results)), workers=results)
    first = next(iter(results.values()))
    for name in ('api_generation', 'version', 'status', 'kind'):
        pod[name] = first.get(name)
    if all(isinstance(r.get('before'), dict) and isinstance(r.get('after'), dict) for r in results.values()):
        pod['before'], pod['after'] = _summed(results, 'before'), _summed(results, 'after')
    for name in ('objects_cleared', 'bytes_cleared'):
        if all(isinstance(r.get(name), int) for r in results.values()):
            pod[name] = sum(r[name] for r in results.values())
    if any('froze_stores' in r for r in results.values()):
        pod['froze_stores'] = any(r.get('froze_stores') for r in results.values())
    if all('healthy' in r for r in results.values()):
        pod['healthy'] = all(r['healthy'] for r in results.values())
        unhealthy = ['%s (%s)' % (w, r.get('health_reason')) for w, r in results.items() if not r['healthy']]
        pod['health_reason'] = '; '.join(unhealthy) or None
        if all(isinstance(r.get('l1'), dict) for r in results.values()):
            pod['l1'] = _l1(results)
    diffs = [(w, r['diff']) for w, r in results.items() if isinstance(r.get('diff'), dict)]
    if diffs:
        pod['diff'] = dict(before=dict((w, d.get('before')) for w, d in diffs), after=dict((w, d.get('after')) for w, d in diffs))
    pod['msg'] = 'Pod of %d workers at %s: %s' % (len(results), url, ' '.join(
        '[%s] %s' % (worker, result.get('msg')) for worker, result in results.items()))
    if failed:
        pod.update(failed=True, msg='%d of %d workers of the pod at %s failed (%s). %s'
                   % (len(failed), len(results), url, ', '.join(failed), pod['msg']))
    return pod


def _summed(results: t.Mapping[str, t.Dict[str, t.Any]], name: str) -> t.Dict[str, t.Any]:
    keys = set.intersection(*(set(k for k, v in r[name].items() if isinstance(v, int)) for r in results.values()))
    return dict((key, sum(r[name][key] for r in results.values())) for key in sorted(keys))


def _l1(results: t.Mapping[str, t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
    totals = dict((key, sum(r['l1'].get(key) or 0 for r in results.values())) for key in ('objects', 'bytes_used', 'bytes_total'))
    totals['usage_ratio'] = float(totals['bytes_used']) / totals['bytes_total'] if totals['bytes_total'] else None
    return totals
