# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""A node's cache counters from its GET /metrics (Prometheus text format 0.0.4), and the hit ratios they give.

Standard library only: the managed hosts need no Prometheus client. The text is the node's (untrusted): every line
is parsed by the format's grammar or refused with its line number, label values are bounded, and nothing a node
sends becomes a key of a result (tenants are a list of entries that carry their labels as values).

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import math
import re
import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import MAX_TEXT, Untrusted

# The counters the collection reports, by the name it reports them under: LMCache's own metric names (0.5.6 and
# later, the `lmcache_mp_` multiprocess server). Each is summed over its label sets (model, tenant, device, tier).
COUNTERS = (
    ('lookups', 'lmcache_mp_lookups_requests_total'),
    ('requested_tokens', 'lmcache_mp_lookup_requested_tokens_total'),
    ('hit_tokens', 'lmcache_mp_lookup_hit_tokens_total'),
    ('hit_tokens_l1', 'lmcache_mp_lookup_hit_l1_tokens_total'),
    ('hit_tokens_l2', 'lmcache_mp_lookup_hit_l2_tokens_total'),
    ('hit_keys_l1', 'lmcache_mp_lookup_hit_l1_keys_total'),
    ('hit_keys_l2', 'lmcache_mp_lookup_hit_l2_keys_total'),
    ('stores', 'lmcache_mp_num_finished_stores_total'),
    ('retrieves', 'lmcache_mp_num_finished_retrieves_total'),
    ('chunks_loaded', 'lmcache_mp_num_chunks_loaded_total'),
    ('l1_chunks_written', 'lmcache_mp_l1_write_chunks_total'),
    ('l1_chunks_read', 'lmcache_mp_l1_read_chunks_total'),
    # Cycles of the L1 eviction loop in which usage was at the watermark and the policy ran (not objects evicted).
    ('eviction_runs', 'lmcache_mp_l1_eviction_loop_triggered_total'),
)
# The engine's (LMCache inside vLLM, `lmcache:` counters of prometheus_client), for the same names: a lookup's tokens
# and hits, stores and retrieves. It counts no hits per tier, no chunk traffic and no eviction runs: those are null.
ENGINE_COUNTERS: t.Tuple[t.Tuple[str, t.Optional[str]], ...] = tuple((name, dict((
    ('lookups', 'lmcache:num_lookup_requests_total'),
    ('requested_tokens', 'lmcache:num_lookup_tokens_total'),
    ('hit_tokens', 'lmcache:num_lookup_hits_total'),
    ('stores', 'lmcache:num_store_requests_total'),
    ('retrieves', 'lmcache:num_retrieve_requests_total'),
)).get(name)) for name, _metric in COUNTERS)
# LMCache's multiprocess server exports its counters through OpenTelemetry, which shows a counter from its first
# increment on: on a fresh node none of the above is there. From this release on (measured) a counter that is not
# there has not counted anything yet; before it, or without a version, it is not known, and reported as null.
COUNTED_FROM_ZERO_SINCE = (0, 5, 6)
# The counters LMCache labels by model_name and cache_salt (the tenant): the per-tenant view.
TENANT_COUNTERS = ('lookups', 'requested_tokens', 'hit_tokens', 'hit_tokens_l1', 'hit_tokens_l2', 'hit_keys_l1', 'hit_keys_l2')
# A node with more label sets than this for one counter is not one LMCache node's /metrics.
MAX_SERIES = 10000
MAX_TENANTS = 1000

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?[ \t]+(\S+)([ \t]+-?[0-9]+)?[ \t]*$')
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*(,|$)')
_ESCAPES = {'\\\\': '\\', '\\"': '"', '\\n': '\n'}


def parse(text: str, wanted: t.Collection[str]) -> t.Dict[str, t.List[t.Tuple[t.Dict[str, str], float]]]:
    """The samples of the `wanted` metrics: {name: [(labels, value)]}. Other metrics are skipped unparsed, so a
    histogram the collection does not read costs nothing; a wanted sample that breaks the format is refused."""
    samples: t.Dict[str, t.List[t.Tuple[t.Dict[str, str], float]]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line or line.startswith('#'):
            continue
        name = line.split('{', 1)[0].split(None, 1)[0]
        if name not in wanted:
            continue
        match = _SAMPLE.match(line)
        if not match:
            raise Untrusted('line %d is not a Prometheus sample: %s' % (number, _shown(line)))
        labels = _labels(match.group(3) or '', number)
        value = _value(match.group(4), number)
        series = samples.setdefault(name, [])
        if len(series) >= MAX_SERIES:
            raise Untrusted('%s has more than %d label sets' % (name, MAX_SERIES))
        series.append((labels, value))
    return samples


def _labels(text: str, number: int) -> t.Dict[str, str]:
    labels: t.Dict[str, str] = {}
    position = 0
    while position < len(text):
        match = _LABEL.match(text, position)
        if not match or match.end() == position:
            raise Untrusted('line %d has labels that are not name="value" pairs: %s' % (number, _shown(text)))
        value = re.sub(r'\\.', lambda m: _ESCAPES.get(m.group(0), m.group(0)), match.group(2))
        if len(value) > MAX_TEXT:
            raise Untrusted('line %d has a label value of %d characters, more than %d' % (number, len(value), MAX_TEXT))
        labels[match.group(1)] = value
        position = match.end()
    return labels


def _value(text: str, number: int) -> float:
    try:
        value = float(text)
    except ValueError:
        raise Untrusted('line %d has the value %s, not a number' % (number, _shown(text)))
    if math.isnan(value) or math.isinf(value) or value < 0:
        raise Untrusted('line %d has the value %s, not a counter (a finite number of 0 or more)' % (number, text))
    return value


def _shown(text: str) -> str:
    return repr(text[:80] + ('...' if len(text) > 80 else ''))


def _whole(value: float) -> t.Union[int, float]:
    """Counters are floats in the text (2048.0); shown as the whole numbers they are."""
    return int(value) if value.is_integer() else value


def _ratio(part: t.Optional[float], whole: t.Optional[float]) -> t.Optional[float]:
    return float(part) / whole if part is not None and whole else None


def ratios(counters: t.Mapping[str, t.Any]) -> t.Dict[str, t.Optional[float]]:
    """hit_ratio (tokens found in L1 or L2 of tokens looked up) and the L1/L2 shares of the hits; None where nothing
    was looked up (or nothing hit)."""
    return dict(hit_ratio=_ratio(counters.get('hit_tokens'), counters.get('requested_tokens')),
                l1_hit_share=_ratio(counters.get('hit_tokens_l1'), counters.get('hit_tokens')),
                l2_hit_share=_ratio(counters.get('hit_tokens_l2'), counters.get('hit_tokens')))


def cache_hits(text: str, counts_from_zero: bool, per_tenant: bool = False,
               counters: t.Sequence[t.Tuple[str, t.Optional[str]]] = COUNTERS
               ) -> t.Tuple[t.Dict[str, t.Any], t.Dict[str, str]]:
    """(the counters and ratios of a node's /metrics text, why a counter is null) - see COUNTERS (ENGINE_COUNTERS for
    an engine, where a counter named None is one it does not count).

    `counts_from_zero`: the node's release exports each counter from its first increment (COUNTED_FROM_ZERO_SINCE),
    so one not there is 0. Otherwise a counter not there is None, with the reason, never 0: a release that does not
    count something has not counted nothing.
    """
    samples = parse(text, set(metric for _name, metric in counters if metric))
    hits: t.Dict[str, t.Any] = {}
    missing: t.Dict[str, str] = {}
    for name, metric in counters:
        if metric in samples:
            hits[name] = _whole(math.fsum(value for _labels, value in samples[metric]))
        elif counts_from_zero and metric:
            hits[name] = 0
        else:
            hits[name] = None
            missing[name] = 'the node exports no %s' % metric if metric else 'an LMCache engine does not count it'
    hits.update(ratios(hits))
    if per_tenant:
        hits['tenants'] = _tenants(samples, counts_from_zero, counters)
    return hits, missing


def _tenants(samples: t.Mapping[str, t.List[t.Tuple[t.Dict[str, str], float]]], counts_from_zero: bool,
             counters: t.Sequence[t.Tuple[str, t.Optional[str]]] = COUNTERS) -> t.List[t.Dict[str, t.Any]]:
    """One entry per (model_name, cache_salt) label pair, sorted: the labels are values, never keys."""
    metric_of = dict(counters)
    tenants: t.Dict[t.Tuple[str, str], t.Dict[str, t.Any]] = {}
    for name in TENANT_COUNTERS:
        for labels, value in samples.get(metric_of[name] or '', []):
            key = (labels.get('model_name', ''), labels.get('cache_salt', ''))
            if key not in tenants and len(tenants) >= MAX_TENANTS:
                raise Untrusted('more than %d tenants (model_name, cache_salt) in the counters' % MAX_TENANTS)
            if key not in tenants:
                tenants[key] = dict(model_name=key[0], cache_salt=key[1])
                tenants[key].update((counter, 0 if counts_from_zero else None) for counter in TENANT_COUNTERS)
            entry = tenants[key]
            entry[name] = _whole((entry[name] or 0) + value)
    entries = [tenants[key] for key in sorted(tenants)]
    for entry in entries:
        entry.update(ratios(entry))
    return entries


def interval(now: t.Mapping[str, t.Any], then: t.Mapping[str, t.Any]) -> t.Dict[str, t.Any]:
    """The hits between two reads of the same node's counters: their differences and the ratios of those.

    Counters only grow while the server runs; one that went down means the server restarted in between (its counters
    began again at 0), and then the interval is what was counted since the restart (`restarted` says so).
    """
    names = [name for name, _metric in COUNTERS]
    restarted = any(isinstance(now.get(n), (int, float)) and isinstance(then.get(n), (int, float)) and now[n] < then[n]
                    for n in names)
    delta: t.Dict[str, t.Any] = {}
    for name in names:
        current, earlier = now.get(name), then.get(name)
        if not isinstance(current, (int, float)):
            delta[name] = None
        elif restarted or not isinstance(earlier, (int, float)):
            delta[name] = current if restarted else None
        else:
            delta[name] = _whole(float(current - earlier))
    delta.update(ratios(delta), restarted=restarted)
    return delta
