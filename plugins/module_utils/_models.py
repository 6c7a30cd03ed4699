# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What LMCache servers report, as typed values: health, L1 usage and status, quotas, a refusal.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._answers import field, read_count, read_list, read_number, unreadable
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import Reply
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import Untrusted, address, count, host_name, number, plain_json, port


class Rejected(Exception):
    """The server (or the admission check) refused the operation; its own outcome, not an error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Health:
    def __init__(self, healthy: bool, reason: t.Optional[str], status: int) -> None:
        self.healthy = healthy
        # The server's own words when it is not healthy.
        self.reason = reason
        self.status = status


class L1Usage:
    def __init__(self, objects: int, bytes_used: int, bytes_total: int, usage_ratio: t.Optional[float],
                 locked_objects: t.Optional[int] = None) -> None:
        self.objects = objects
        self.bytes_used = bytes_used
        self.bytes_total = bytes_total
        self.usage_ratio = usage_ratio
        # Objects in-flight requests are reading or writing; a clear without force keeps them (0.5.6 and later).
        self.locked_objects = locked_objects

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(objects=self.objects, bytes_used=self.bytes_used, bytes_total=self.bytes_total,
                    usage_ratio=self.usage_ratio)

    def counts(self) -> t.Dict[str, int]:
        return dict(objects=self.objects, bytes_used=self.bytes_used)


class ServerStatus:
    """The parts of `/status` the collection uses, read the same way on every generation."""

    def __init__(self, chunk_size: t.Optional[int], active_sessions: t.Optional[int], l1: L1Usage,
                 eviction_watermark: t.Optional[float], l2_adapters: t.List[t.Dict[str, t.Any]]) -> None:
        self.chunk_size = chunk_size
        self.active_sessions = active_sessions
        self.l1 = l1
        self.eviction_watermark = eviction_watermark
        self.l2_adapters = l2_adapters


def parse_status(reply: Reply) -> ServerStatus:
    body = reply.json_object()
    # Every generation has `l1_manager`; 0.5.6 adds per-backend `l1_managers` whose `_default` is the same one.
    if isinstance(field(body, 'storage_manager.l1_manager'), dict):
        l1 = _parse_l1(reply, body, ['storage_manager.l1_manager'])
    elif not isinstance(field(body, 'storage_manager.l1_managers'), dict):
        raise unreadable(reply, 'storage_manager.l1_manager', field(body, 'storage_manager.l1_manager'),
                         'an object with the L1 counts')
    else:
        names = sorted(field(body, 'storage_manager.l1_managers'))
        if not names:
            raise unreadable(reply, 'storage_manager.l1_managers', {}, 'at least one L1 manager')
        l1 = _parse_l1(reply, body, ['storage_manager.l1_managers.%s' % name for name in names])
    watermark = read_number(reply, body, 'storage_manager.l1_eviction_controller.trigger_watermark', optional=True, high=1.0)
    adapters = read_list(reply, body, 'storage_manager.l2_adapters', optional=True)
    return ServerStatus(
        chunk_size=read_count(reply, body, 'chunk_size', optional=True),
        active_sessions=read_count(reply, body, 'active_sessions', optional=True),
        l1=l1,
        eviction_watermark=watermark,
        l2_adapters=[a for a in adapters if isinstance(a, dict)],
    )


def _parse_l1(reply: Reply, body: t.Any, managers: t.List[str]) -> L1Usage:
    objects = used = total = 0
    locked: t.Optional[int] = 0
    for manager in managers:
        counts = field(body, manager)
        objects += t.cast(int, read_count(reply, counts, 'total_object_count', name=manager + '.total_object_count'))
        used += t.cast(int, read_count(reply, counts, 'memory_used_bytes', name=manager + '.memory_used_bytes'))
        total += t.cast(int, read_count(reply, counts, 'memory_total_bytes', name=manager + '.memory_total_bytes'))
        write_locked = read_count(reply, counts, 'write_locked_count', optional=True, name=manager + '.write_locked_count')
        read_locked = read_count(reply, counts, 'read_locked_count', optional=True, name=manager + '.read_locked_count')
        if write_locked is None and read_locked is None:
            locked = None
        elif locked is not None:
            locked += (write_locked or 0) + (read_locked or 0)
    if used > total > 0:
        raise unreadable(reply, managers[0] + '.memory_used_bytes', used, 'at most memory_total_bytes (%d)' % total)
    ratio = (float(used) / total) if total else None
    return L1Usage(objects, used, total, ratio, min(locked, objects) if locked is not None else None)


class Quota:
    def __init__(self, cache_salt: str, limit_gb: t.Optional[float], usage_gb: t.Optional[float]) -> None:
        self.cache_salt = cache_salt
        self.limit_gb = limit_gb
        self.usage_gb = usage_gb

    def as_dict(self) -> t.Dict[str, t.Any]:
        return dict(cache_salt=self.cache_salt, limit_gb=self.limit_gb, current_usage_gb=self.usage_gb)


def read_quota(reply: Reply, salt: str, entry: t.Any, prefix: str) -> Quota:
    """One tenant's quota; `prefix` locates it in the answer for error messages."""
    if not isinstance(entry, dict):
        raise unreadable(reply, prefix.rstrip('.') or 'the quota', entry, 'an object')
    return Quota(salt, read_number(reply, entry, 'limit_gb', optional=True, name=prefix + 'limit_gb'),
                 read_number(reply, entry, 'current_usage_gb', optional=True, name=prefix + 'current_usage_gb'))


# -- a coordinator's GET /instances/usage (0.5.5 and later): read here only, for the inventory and the pin admission

def usage_modules(entry: t.Any, field: str) -> t.List[t.Dict[str, t.Any]]:
    """The L1 and L2 modules of one instance's usage entry, checked: [{tier, used_bytes, capacity_bytes, usage_ratio}].

    Raises Untrusted naming `field` (where the entry is) when a value is not what LMCache sends.
    """
    modules = entry.get('modules') if isinstance(entry, dict) else None
    if modules is not None and not isinstance(modules, list):
        raise Untrusted('%s.modules is not a list' % field)
    kept = []
    for index, module in enumerate(modules or []):
        where = '%s.modules[%d]' % (field, index)
        if not isinstance(module, dict):
            raise Untrusted('%s is not an object' % where)
        if module.get('tier') not in ('l1', 'l2'):
            continue
        ratio = module.get('usage_ratio')
        if ratio is not None and (not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not ratio >= 0):
            raise Untrusted('%s %s usage_ratio: %r, expected a number from 0' % (field, module['tier'].upper(), ratio))
        kept.append(dict(tier=module['tier'],
                         used_bytes=count(module.get('used_bytes'), where + '.used_bytes', optional=True) or 0,
                         capacity_bytes=count(module.get('capacity_bytes'), where + '.capacity_bytes', optional=True) or 0,
                         usage_ratio=None if ratio is None else float(ratio)))
    return kept


def usage_tiers(modules: t.List[t.Dict[str, t.Any]]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """{'l1': {used_bytes, capacity_bytes, usage_ratio}, 'l2': {...}} from checked usage modules: bytes summed over a
    tier's modules, the ratio of the sums; where no capacity is declared, the server's own ratio of a lone module."""
    tiers: t.Dict[str, t.Dict[str, t.Any]] = {}
    for module in modules:
        tier = tiers.setdefault(module['tier'], dict(used_bytes=0, capacity_bytes=0, usage_ratio=None, modules=0))
        tier['used_bytes'] += module['used_bytes']
        tier['capacity_bytes'] += module['capacity_bytes']
        tier['modules'] += 1
        if tier['capacity_bytes']:
            tier['usage_ratio'] = float(tier['used_bytes']) / tier['capacity_bytes']
        elif tier['modules'] == 1:
            tier['usage_ratio'] = module.get('usage_ratio')
    for tier in tiers.values():
        del tier['modules']
    return tiers


# -- a coordinator's GET /instances: who registered, each registration checked on its own -----------------------------

class Registrations:
    """The registrations that passed every check (plain values), their usage entries, and why others did not."""

    def __init__(self) -> None:
        # {instance_id, ip, http_port, registration_time, metadata}, in the coordinator's order.
        self.kept: t.List[t.Dict[str, t.Any]] = []
        # {instance_id, modules} of the kept instances that have a usage entry.
        self.usage: t.List[t.Dict[str, t.Any]] = []
        # One sentence per registration left out, naming the coordinator, the instance and the field.
        self.refused: t.List[str] = []
        # The same, by the instance id it was registered with, where that is a string.
        self.refused_ids: t.Dict[str, str] = {}
        # Usage entries ignored because they name no instance.
        self.ignored: t.List[str] = []


def check_registrations(instances: t.List[t.Any], usage_entries: t.List[t.Any], where: str,
                        reserved: t.Collection[str] = (), reserved_prefix: t.Optional[str] = None) -> Registrations:
    """GET /instances (and /instances/usage) of the coordinator `where` names, each entry checked on its own: an id
    that is not a plain name (or is `reserved`, or starts with `reserved_prefix`), an address that could carry a path
    or a user, a port out of range, unreadable metadata or usage, or an id listed at several addresses leaves that
    instance out, with the reason; the others are kept."""
    checked = Registrations()
    usage, bad_usage = _usage_by_instance(usage_entries, where, checked)
    kept: t.Dict[str, t.List[t.Dict[str, t.Any]]] = {}
    for number_, raw in enumerate(instances):
        try:
            registration = _registration(raw, 'instances[%d]' % number_, reserved, reserved_prefix)
            instance = registration['instance_id']
            if instance in bad_usage:
                raise Untrusted(bad_usage[instance])
        except Untrusted as exc:
            checked.refused.append('%s, GET /instances: %s' % (where, exc))
            if isinstance(raw, dict) and isinstance(raw.get('instance_id'), str):
                checked.refused_ids[raw['instance_id']] = checked.refused[-1]
            continue
        kept.setdefault(instance, []).append(registration)
    for instance, found in kept.items():
        addresses = sorted({(r['ip'], r['http_port']) for r in found})
        if len(addresses) > 1:
            checked.refused.append('%s lists the instance id %s %d times at different addresses (%s): which one is the '
                                   'node cannot be told' % (where, instance, len(found), ', '.join('%s:%d' % a for a in addresses)))
            checked.refused_ids[instance] = checked.refused[-1]
            continue
        checked.kept.append(found[0])
    checked.usage = [usage[r['instance_id']] for r in checked.kept if r['instance_id'] in usage]
    return checked


def _usage_by_instance(entries: t.List[t.Any], where: str, checked: Registrations
                       ) -> t.Tuple[t.Dict[str, t.Any], t.Dict[str, str]]:
    """(usage by instance id, why an instance's usage entry cannot be read)."""
    usage: t.Dict[str, t.Any] = {}
    bad: t.Dict[str, str] = {}
    for index, entry in enumerate(entries):
        field = 'GET /instances/usage instances[%d]' % index
        instance = entry.get('instance_id') if isinstance(entry, dict) else None
        if not isinstance(instance, str):
            checked.ignored.append('%s, %s has no instance_id string; the entry is ignored' % (where, field))
            continue
        try:
            usage[instance] = dict(instance_id=instance, modules=usage_modules(entry, field))
        except Untrusted as exc:
            bad[instance] = str(exc)
    return usage, bad


def _registration(raw: t.Any, field: str, reserved: t.Collection[str], reserved_prefix: t.Optional[str]) -> t.Dict[str, t.Any]:
    """One entry of GET /instances, checked field by field."""
    if not isinstance(raw, dict):
        raise Untrusted('%s is not an object' % field)
    instance = host_name(raw.get('instance_id'), '%s.instance_id' % field, groups=reserved)
    if reserved_prefix and instance.startswith(reserved_prefix):
        raise Untrusted('%s.instance_id %r has the prefix of this inventory\'s coordinator groups' % (field, instance))
    field = 'instance %s (%s)' % (instance, field)
    metadata = raw.get('metadata')
    return dict(
        instance_id=instance,
        ip=address(raw.get('ip'), field + '.ip'),
        http_port=port(raw.get('http_port'), field + '.http_port'),
        registration_time=number(raw.get('registration_time'), field + '.registration_time', optional=True),
        metadata=plain_json(metadata, field + '.metadata') if metadata is not None else {},
    )
