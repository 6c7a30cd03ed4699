# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Which addresses a coordinator's registry may send a key to, and the one reader of a coordinator's registry.

Anything that reaches a coordinator can register (POST /instances takes no key). So an address that came from a
registry is not the operator's word: no API key goes to it unless the operator's `networks` setting vouches for it.
With `networks` set, a registration outside it is left out, with a warning that names the coordinator, the instance
and the address; without it, every registration is kept, unvouched: it is read and cleared without a key, and a keyed
node answers 401 with a message that names the setting to set.

Every reader of a registry goes through read_registry (or registry_from, for what the inventory cache kept): the
coordinator inventory, the coordinator_info module and lookup, the event source, and the per-request operations that
find an instance's address in the registry.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t

from ansible.module_utils.basic import env_fallback

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheClient
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import check_registrations, usage_tiers
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import coordinator_registrations
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import node_url

# Merged into the argument spec of every operation that reads a registry; documented in the lmcache.kvcache.registry
# doc fragment.
NETWORKS_ARGUMENT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    networks=dict(type='list', elements='str', fallback=(env_fallback, ['LMCACHE_NETWORKS'])),
)
_NAME_PATTERN = re.compile(r'^[A-Za-z0-9*](?:[A-Za-z0-9*.-]{0,251}[A-Za-z0-9*])?$')

# Why a registered address gets no key, for the message of a keyed node's 401.
UNVOUCHED = ('its address came from the registry of the coordinator %s, and no networks setting vouches for it. Set '
             'networks (a list of the fleet\'s CIDR blocks, host names or patterns such as *.gpu.example.com) where '
             'the registry is read: the coordinator inventory, this task, or the event source')
# Why the url of a task gets no key when url_vouched is false (the coordinator inventory, the event source or a
# coordinator_info result said its address came from a registry that no networks setting vouches for).
URL_UNVOUCHED = ('url_vouched is false: this address came from a coordinator\'s registry, and no networks setting '
                 'vouches for it. Set networks where the registry is read (the coordinator inventory, the event source, '
                 'lmcache_coordinator_info) to the fleet\'s addresses, or url_vouched: true on a task whose url you wrote '
                 'yourself')


class Networks:
    """The operator's `networks`: CIDR blocks and addresses, host names, and name patterns. In a pattern, a leading
    `*.` stands for one or more labels (`*.gpu.example.com`: every name under gpu.example.com) and any other `*` for
    part of one label (`gpu-*.example.com`), never for a dot: `gpu-*` does not vouch for gpu-1.attacker.example.

    Registered names are compared as registered, never resolved: DNS is as much the attacker's as the registry."""

    def __init__(self, entries: t.Optional[t.Sequence[str]]) -> None:
        self.given = entries is not None
        self.entries = list(entries or [])
        self.blocks = []
        self.names: t.List[t.Pattern[str]] = []
        for entry in self.entries:
            block = _block(entry)
            if block is not None:
                self.blocks.append(block)
            else:
                self.names.append(_name_pattern(entry))

    @staticmethod
    def problems(entries: t.Optional[t.Sequence[t.Any]], option: str = 'networks') -> t.List[str]:
        """What is wrong with a `networks` value, before any request."""
        if entries is None:
            return []
        problems = []
        for entry in entries:
            if not isinstance(entry, str) or not (_block(entry) is not None or _NAME_PATTERN.match(entry.rstrip('.'))):
                problems.append('%s entries are CIDR blocks (10.0.0.0/8), addresses, host names or name patterns '
                                '(*.gpu.example.com), got %r' % (option, entry))
        return problems

    def vouches(self, host: str) -> bool:
        """Whether a registered address (an IP address or a DNS name, as checked) is one of the fleet's."""
        try:
            address = ipaddress.ip_address(host.strip('[]'))
        except ValueError:
            name = host.lower().rstrip('.')
            return any(pattern.match(name) for pattern in self.names)
        return any(address.version == block.version and address in block for block in self.blocks)


def _name_pattern(entry: str) -> t.Pattern[str]:
    text = entry.lower().rstrip('.')
    prefix = ''
    if text.startswith('*.'):
        prefix, text = r'(?:[a-z0-9-]+\.)+', text[2:]
    return re.compile(prefix + r'[a-z0-9-]*'.join(re.escape(part) for part in text.split('*')) + r'\Z')


def _block(entry: str) -> t.Optional[t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]]:
    try:
        return ipaddress.ip_network(entry.strip('[]'), strict=False)
    except ValueError:
        return None


class Registry:
    """One coordinator's registry as this collection uses it: the registrations kept (checked, each with its node URL
    and whether `networks` vouches for it), the ones left out and why, and usage entries ignored."""

    def __init__(self, coordinator: str) -> None:
        self.coordinator = coordinator
        # The checked registrations and usage entries, before networks was applied: what an inventory cache keeps.
        self.registrations: t.List[t.Dict[str, t.Any]] = []
        self.usage_entries: t.List[t.Dict[str, t.Any]] = []
        # {instance_id, ip, http_port, registration_time, metadata, url, vouched, usage (with usage)}, in its order.
        self.kept: t.List[t.Dict[str, t.Any]] = []
        # One sentence per registration left out: unreadable, or outside networks; and by instance id, where known.
        self.left_out: t.List[str] = []
        self.left_out_ids: t.Dict[str, str] = {}
        # {instance_id, url} of the registrations left out because networks does not vouch for them.
        self.outside: t.List[t.Dict[str, str]] = []
        self.ignored: t.List[str] = []

    def key_withheld(self, entry: t.Mapping[str, t.Any]) -> t.Optional[str]:
        """Why no API key goes to a kept registration's node (None: one does)."""
        return None if entry['vouched'] else UNVOUCHED % self.coordinator


def registry_from(instances: t.List[t.Any], usage: t.List[t.Any], coordinator: str, networks: Networks,
                  scheme: str = 'http', with_usage: bool = False, reserved: t.Collection[str] = (),
                  reserved_prefix: t.Optional[str] = None) -> Registry:
    """A registry from a coordinator's raw GET /instances (and /instances/usage) entries, or from the checked ones an
    inventory cache kept: every entry checked on its own, then held against `networks`."""
    registry = Registry(coordinator)
    checked = check_registrations(instances, usage, 'the coordinator %s' % coordinator, reserved=reserved,
                                  reserved_prefix=reserved_prefix)
    registry.registrations, registry.usage_entries = checked.kept, checked.usage
    registry.ignored = checked.ignored
    registry.left_out = list(checked.refused)
    registry.left_out_ids = dict(checked.refused_ids)
    tiers = dict((entry['instance_id'], entry['modules']) for entry in checked.usage)
    for registration in checked.kept:
        name = registration['instance_id']
        url = node_url(scheme, registration['ip'], registration['http_port'], 'instance %s' % name)
        if networks.given and not networks.vouches(registration['ip']):
            registry.left_out.append('the coordinator %s lists the instance %s at %s, which networks does not vouch '
                                     'for' % (coordinator, name, url))
            registry.outside.append(dict(instance_id=name, url=url))
            registry.left_out_ids[name] = registry.left_out[-1]
            continue
        entry = dict(registration, url=url, vouched=networks.given)
        if with_usage:
            entry['usage'] = usage_tiers(tiers[name]) if name in tiers else None
        registry.kept.append(entry)
    return registry


def read_registry(client: LMCacheClient, networks: Networks, scheme: str = 'http', with_usage: bool = False) -> Registry:
    """A coordinator's registry, read (GET /instances, and /instances/usage with `with_usage`) and checked."""
    instances, usage = coordinator_registrations(client, with_usage)
    return registry_from(instances, usage, client.display_url, networks, scheme, with_usage)
