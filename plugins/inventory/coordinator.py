# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r'''
name: coordinator
short_description: Every LMCache node registered with one or more LMCache coordinators, as a host
version_added: 0.1.0
description:
  - Reads the nodes registered with LMCache coordinators (C(GET /instances), LMCache 0.4.7 and later) and makes one host
    per node, named by its instance id.
  - Every host is in the group O(group) (C(lmcache) by default, the group this collection's playbooks run on) and in
    one group per coordinator, C(lmcache_coordinator_<host>_<port>).
  - Each host gets C(lmcache_url) (C(http://<ip>:<http_port>)), and with O(usage=true) C(lmcache_usage), its L1 and
    L2 usage from C(GET /instances/usage). The rest of its registration, C(lmcache_instance_id),
    C(lmcache_registration_time) and C(lmcache_metadata) (what the node registered with), become host variables only
    when named in O(host_variables), because Ansible checks and tags every variable of every host, on every run, and
    the collection needs none of them. O(compose), O(groups) and O(keyed_groups) see them all whatever O(host_variables)
    says. A host named C(<id>@<coordinator>) (below) always gets C(lmcache_instance_id).
  - The nodes' APIs are reached from the controller, as the coordinator reaches them, so hosts get
    C(ansible_connection=local) (see O(connection)), so the playbooks and the fan-out need no SSH to them.
  - What every node of a coordinator shares, C(lmcache_coordinator_url) and C(ansible_connection) (with
    C(ansible_python_interpreter) for V(local)), is set once on its coordinator group rather than on each host;
    10,000 hosts are 30,000 fewer host variables for Ansible to check. A node registered with several coordinators at
    the same address keeps the first coordinator's URL as a host variable.
  - Talks to the coordinators with the same HTTP client as the modules, with the same TLS, key, timeout and retry
    options (LMCache's coordinator has no keys yet; O(api_key) is for a coordinator behind a gateway that checks one).
    The inventory file's name must end with C(lmcache.yml) or C(lmcache.yaml).
  - Anything that reaches a coordinator can register a node, so each registration is checked on its own, field by
    field, and its values are data, never templates (see the collection's security guide). A registration whose id
    is not a plain host name (or is O(group), C(all), C(localhost) or a coordinator group's name), whose address,
    port, metadata or usage cannot be read, or whose id the coordinator lists at more than one address, is left out
    with one warning naming the coordinator, the instance and the field; the others stay. With O(strict=true) the
    parse fails instead. The cache (O(cache=true)) holds only the checked values.
  - A registered address is not the operator's word. With O(networks) set, a registration outside it is left out the
    same way, and the hosts kept may be sent the API key. Without it, every node of the coordinators gets
    C(lmcache_url_vouched=false) (a variable of its coordinator group), and the collection's modules and its fan-out
    send such a host no API key at all, and a node that requires one fails with a message naming O(networks).
author:
  - LMCache maintainers (@LMCache)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
  - lmcache.kvcache.connection.plugins
  - lmcache.kvcache.registry.plugins
options:
  plugin:
    description: The name of this plugin; it must always be set to V(lmcache.kvcache.coordinator).
    type: str
    required: true
    choices: [lmcache.kvcache.coordinator]
  coordinator_url:
    description:
      - Base URL of an LMCache coordinator, or a list of them, for example V(http://lmcache-coordinator:9300).
      - The coordinators of a list are read at once (up to 16 at a time); a node registered with several keeps the
        first one's URL, in the order of the list.
    type: raw
    required: true
    env:
      - name: LMCACHE_COORDINATOR_URL
  usage:
    description: Also read each node's L1 and L2 usage (C(GET /instances/usage), coordinator 0.5.5 and later) into C(lmcache_usage).
    type: bool
    default: false
  group:
    description: The group every discovered host is in.
    type: str
    default: lmcache
  node_scheme:
    description: The scheme of the nodes' URLs, V(http) or V(https) (nodes behind a TLS terminator).
    type: str
    choices: [http, https]
    default: http
  host_variables:
    description:
      - Which fields of each node's registration also become host variables, besides C(lmcache_url) (and
        C(lmcache_usage) with O(usage=true)).
      - V(instance_id) (C(lmcache_instance_id), the host's name unless renamed), V(registration_time)
        (C(lmcache_registration_time)), V(metadata) (C(lmcache_metadata)).
      - O(compose), O(groups) and O(keyed_groups) see every field, whether or not it is listed here; to keep one field
        of the metadata as a variable, compose it (O(compose) C(lmcache_model) from C(lmcache_metadata.model)).
    type: list
    elements: str
    choices: [instance_id, registration_time, metadata]
    default: []
    version_added: 0.2.0
  connection:
    description:
      - The C(ansible_connection) of the discovered hosts. V(local) runs their tasks on the controller, which reaches
        the nodes' APIs as the coordinator does. Set it to an empty string to leave C(ansible_connection) unset (to
        reach the hosts over SSH and use the API on their loopback, set C(lmcache_url) too, with O(compose)).
    type: str
    default: local
'''

EXAMPLES = r'''
# lmcache.yml: every node of one coordinator in the fleet's network, grouped by the model in their metadata and by rack
plugin: lmcache.kvcache.coordinator
coordinator_url: http://lmcache-coordinator.example.com:9300
networks:
  - 10.20.0.0/16
  - "*.gpu.example.com"
usage: true
# The nodes' metadata as a host variable too (keyed_groups and groups see it anyway)
host_variables: [metadata]
keyed_groups:
  - key: lmcache_metadata.model | default('unknown')
    prefix: model
  - key: lmcache_metadata.rack | default('unknown')
    prefix: rack
groups:
  # Nodes whose L1 is three-quarters full
  lmcache_busy: (lmcache_usage.l1.usage_ratio | default(0)) >= 0.75

# two-regions.lmcache.yml: two coordinators; each node is also in lmcache_coordinator_<host>_<port>
# plugin: lmcache.kvcache.coordinator
# coordinator_url:
#   - https://coordinator.eu-west.example.com:9300
#   - https://coordinator.us-east.example.com:9300
# ca_path: /etc/pki/lmcache-ca.pem
# cache: true
# cache_plugin: ansible.builtin.jsonfile
# cache_connection: ~/.cache/lmcache-inventory
# cache_timeout: 300
'''

import re
import sys
import typing as t

from ansible.errors import AnsibleParserError
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError, redact_url
from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import (
    CONNECTION_ARGUMENT_SPEC, Connector, api_key_secrets, connection_problems)
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import coordinator_registrations
from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import Networks, Registry, registry_from
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._parallel import run_concurrently

COORDINATOR_GROUP_PREFIX = 'lmcache_coordinator_'
# How many coordinators are read at once.
COORDINATORS_AT_ONCE = 16


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = 'lmcache.kvcache.coordinator'

    def verify_file(self, path: str) -> bool:
        return super().verify_file(path) and path.endswith(('lmcache.yml', 'lmcache.yaml'))

    def parse(self, inventory: t.Any, loader: t.Any, path: str, cache: bool = True) -> None:
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        urls = self.get_option('coordinator_url')
        urls = [urls] if isinstance(urls, str) else urls
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise AnsibleParserError('%s: coordinator_url must be a URL or a list of URLs, got %r' % (path, urls))
        problems = Networks.problems(self.get_option('networks'))
        if problems:
            raise AnsibleParserError('lmcache.kvcache.coordinator: %s' % '; '.join(problems))
        cache_key = self.get_cache_key(path)
        coordinators = None
        if self.get_option('cache') and cache:
            try:
                coordinators = self._cache[cache_key]
            except KeyError:
                coordinators = None
        fresh = coordinators is None
        if coordinators is None:
            coordinators = self._read_all(urls)
        # What comes from the cache is checked again: the cache file is only as trustworthy as its directory.
        registries = [self._registry(coordinator) for coordinator in coordinators]
        if fresh and self.get_option('cache'):
            # The cache holds only what passed the checks, as plain values, before networks (which may change).
            self._cache[cache_key] = [dict(url=r.coordinator, instances=r.registrations, usage=r.usage_entries)
                                      for r in registries]
        self._populate(registries)

    def _say(self, text: str) -> str:
        """A text for the output, with the API key masked: an error body may echo the Authorization header."""
        secrets = set(api_key_secrets(self.get_option('api_key')))
        return remove_values(text, secrets) if secrets else text

    def _refuse(self, text: str) -> None:
        """A bad registration: a warning, and the instance is left out; with strict, the parse fails."""
        if self.get_option('strict'):
            raise AnsibleParserError(self._say('lmcache.kvcache.coordinator: %s (strict: true)' % text))
        self.display.warning(self._say('lmcache.kvcache.coordinator: %s; it is left out of the inventory' % text))

    def _read_all(self, urls: t.List[str]) -> t.List[t.Dict[str, t.Any]]:
        """Every coordinator's raw registrations, read at once: an inventory of several regions waits for its slowest
        coordinator, not for all of them one after another. Warnings, and the first failure, come in the order of
        coordinator_url, as they would one after another."""
        def read(url: str) -> t.Tuple[t.Optional[t.Dict[str, t.Any]], t.List[str], t.Optional[AnsibleParserError]]:
            warnings: t.List[str] = []
            try:
                return self._read(url, warnings.append), warnings, None
            except AnsibleParserError as exc:
                return None, warnings, exc

        coordinators = []
        for coordinator, warnings, failure in run_concurrently(read, urls, COORDINATORS_AT_ONCE):
            for text in warnings:
                self.display.warning(text)
            if failure is not None:
                raise failure
            coordinators.append(t.cast(t.Dict[str, t.Any], coordinator))
        return coordinators

    def _read(self, url: str, warn: t.Callable[[str], None]) -> t.Dict[str, t.Any]:
        """One coordinator's raw registrations and usage (each checked by _registry); `warn` takes its warnings."""
        params = dict((name, self.get_option(name)) for name in CONNECTION_ARGUMENT_SPEC if name not in ('url', 'url_vouched'))
        params.update(url=url)
        problems = connection_problems(params)
        if problems:
            raise AnsibleParserError('lmcache.kvcache.coordinator: %s' % '; '.join(problems).replace('url ', 'coordinator_url ', 1))
        client = Connector(params, warn=lambda text: warn(self._say(text))).client(url)
        try:
            instances, usage = coordinator_registrations(client, self.get_option('usage'))
        except LMCacheError as exc:
            raise AnsibleParserError(self._say('lmcache.kvcache.coordinator: cannot read the LMCache coordinator %s: %s'
                                               % (redact_url(url), exc)))
        finally:
            client.close()
        # The URL is the operator's own (a trusted template in the inventory file), but the cache keeps data only, with
        # no trust marks of any kind: str() is its plain text.
        return dict(url=str(redact_url(url)), instances=instances, usage=usage)

    def _registry(self, coordinator: t.Any) -> Registry:
        """One coordinator's registry through the collection's one reader (_vouching.py); one warning per registration
        left out (a failure with strict)."""
        if not isinstance(coordinator, dict) or not isinstance(coordinator.get('url'), str) \
                or not isinstance(coordinator.get('instances'), list) or not isinstance(coordinator.get('usage'), list):
            raise AnsibleParserError('lmcache.kvcache.coordinator: the inventory cache holds something this plugin did '
                                     'not write; clear it (ansible-inventory --flush-cache)')
        registry = registry_from(coordinator['instances'], coordinator['usage'], coordinator['url'],
                                 Networks(self.get_option('networks')), self.get_option('node_scheme'),
                                 with_usage=self.get_option('usage'), reserved=(self.get_option('group'),),
                                 reserved_prefix=COORDINATOR_GROUP_PREFIX)
        for text in registry.ignored:
            self.display.warning(self._say('lmcache.kvcache.coordinator: %s' % text))
        for text in registry.left_out:
            self._refuse(text)
        return registry

    def _populate(self, registries: t.List[Registry]) -> None:
        group = self.inventory.add_group(self.get_option('group'))
        # Each host's node URL and the URL of the first coordinator it was registered with.
        first_seen: t.Dict[str, t.Tuple[str, str]] = {}
        added: t.List[str] = []
        for registry in registries:
            coordinator_group = self.inventory.add_group(COORDINATOR_GROUP_PREFIX + _group_part(registry.coordinator))
            shared = self._shared_variables(registry.coordinator)
            for key, value in shared.items():
                self.inventory.set_variable(coordinator_group, key, value)
            for instance in registry.kept:
                name = self._host_name(instance, registry.coordinator, first_seen)
                if name in first_seen:
                    # The first coordinator's URL stays the host's, whatever the order of its groups' variables.
                    self.inventory.set_variable(name, 'lmcache_coordinator_url', first_seen[name][1])
                    self.inventory.add_child(coordinator_group, name)
                    continue
                first_seen[name] = (instance['url'], registry.coordinator)
                added.append(self._add_host(name, group, coordinator_group, instance, shared))
        self._drop_hosts_named_like_groups(added)

    def _shared_variables(self, coordinator: str) -> t.Dict[str, t.Any]:
        """What every node of a coordinator shares, set once on its group."""
        shared: t.Dict[str, t.Any] = dict(lmcache_coordinator_url=coordinator)
        if not self.get_option('networks'):
            # No setting vouches for the registered addresses: the modules and the fan-out send them no key.
            shared['lmcache_url_vouched'] = False
        connection = self.get_option('connection')
        if connection:
            shared['ansible_connection'] = connection
            if connection == 'local':
                # The controller's own Python: the interpreter of this process, ansible_playbook_python.
                shared['ansible_python_interpreter'] = sys.executable
        return shared

    def _host_name(self, instance: t.Dict[str, t.Any], coordinator: str, first_seen: t.Dict[str, t.Tuple[str, str]]) -> str:
        """The instance id, or id@coordinator when another coordinator registered the same id at another address."""
        name = instance['instance_id']
        if name in first_seen and first_seen[name][0] != instance['url']:
            renamed = '%s@%s' % (name, _group_part(coordinator))
            self.display.warning(self._say(
                'lmcache.kvcache.coordinator: the instance id %s is registered with more than one coordinator at '
                'different addresses; the one of %s (%s) is named %s' % (name, coordinator, instance['url'], renamed)))
            return renamed
        return name

    def _add_host(self, name: str, group: str, coordinator_group: str, instance: t.Dict[str, t.Any],
                  shared: t.Dict[str, t.Any]) -> str:
        """A host for one registration, with its own variables, composed variables and groups."""
        strict = self.get_option('strict')
        host = self.inventory.add_host(name, group=group)
        self.inventory.add_child(coordinator_group, host)
        # Registered values are data, never templates: they are plain values of our own making (checked, with no
        # __ansible* key), which ansible-core 2.19 and later never trust as templates, and the inventory manager takes
        # any trust off what a plugin sets (trusted_by_default is false). tests/fleet checks it.
        registration = dict(lmcache_url=instance['url'], lmcache_instance_id=instance['instance_id'],
                            lmcache_registration_time=instance['registration_time'], lmcache_metadata=instance['metadata'])
        if self.get_option('usage'):
            registration['lmcache_usage'] = instance['usage']
        # Only what was asked for is set on the host: each variable costs Ansible a check and a tag per host and run.
        kept = set(['lmcache_url', 'lmcache_usage'] + ['lmcache_' + field for field in self.get_option('host_variables')])
        if name != instance['instance_id']:
            kept.add('lmcache_instance_id')
        for key, value in registration.items():
            if key in kept:
                self.inventory.set_variable(host, key, value)
        # compose, groups and keyed_groups see every field of the registration.
        variables = dict(shared, **registration)
        self._set_composite_vars(self.get_option('compose'), variables, host, strict=strict)
        self._add_host_to_composed_groups(self.get_option('groups'), variables, host, strict=strict)
        self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, host, strict=strict)
        return host

    def _drop_hosts_named_like_groups(self, added: t.List[str]) -> None:
        """A host whose name is also a group's (one made by keyed_groups from another node's metadata, say) would be
        read as that group by a host pattern: leave it out."""
        for name in added:
            if name in self.inventory.groups:
                self._refuse('the instance id %s is also the name of a group of this inventory, which a host pattern '
                             'would read as that whole group' % name)
                host = self.inventory.get_host(name)
                if host is not None:
                    self.inventory.remove_host(host)


def _group_part(url: str) -> str:
    """'http://coordinator.example.com:9300' -> 'coordinator_example_com_9300' (a valid group name part)."""
    return re.sub(r'[^A-Za-z0-9_]', '_', re.sub(r'^[a-z]+://', '', url).rstrip('/'))
