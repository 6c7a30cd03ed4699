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
  - Each host gets C(lmcache_url) (C(http://<ip>:<http_port>)), C(lmcache_instance_id), C(lmcache_coordinator_url),
    C(lmcache_registration_time) and C(lmcache_metadata) (what the node registered with), and with O(usage=true)
    C(lmcache_usage), its L1 and L2 usage from C(GET /instances/usage).
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
author:
  - LMCache maintainers (@LMCache)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
  - lmcache.kvcache.connection.plugins
options:
  plugin:
    description: The name of this plugin; it must always be set to V(lmcache.kvcache.coordinator).
    type: str
    required: true
    choices: [lmcache.kvcache.coordinator]
  coordinator_url:
    description:
      - Base URL of an LMCache coordinator, or a list of them, for example V(http://lmcache-coordinator:9300).
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
  connection:
    description:
      - The C(ansible_connection) of the discovered hosts. V(local) runs their tasks on the controller, which reaches
        the nodes' APIs as the coordinator does. Set it to an empty string to leave C(ansible_connection) unset (to
        reach the hosts over SSH and use the API on their loopback, set C(lmcache_url) too, with O(compose)).
    type: str
    default: local
'''

EXAMPLES = r'''
# lmcache.yml: every node of one coordinator, grouped by the model in their metadata and by rack
plugin: lmcache.kvcache.coordinator
coordinator_url: http://lmcache-coordinator.example.com:9300
usage: true
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
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import check_registrations, usage_tiers
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import coordinator_registrations
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import node_url

COORDINATOR_GROUP_PREFIX = 'lmcache_coordinator_'


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
        cache_key = self.get_cache_key(path)
        use_cache = self.get_option('cache') and cache
        coordinators = None
        if use_cache:
            try:
                coordinators = self._cache[cache_key]
            except KeyError:
                coordinators = None
        if coordinators is None:
            # The cache holds only what passed the checks, as plain values.
            coordinators = [self._validated(self._read(url)) for url in urls]
            if self.get_option('cache'):
                self._cache[cache_key] = coordinators
        else:
            # What comes from the cache is checked again: the cache file is only as trustworthy as its directory.
            coordinators = [self._validated(coordinator) for coordinator in coordinators]
        self._populate(coordinators)

    def _say(self, text: str) -> str:
        """A text for the output, with the API key masked: an error body may echo the Authorization header."""
        secrets = set(api_key_secrets(self.get_option('api_key')))
        return remove_values(text, secrets) if secrets else text

    def _refuse(self, text: str) -> None:
        """A bad registration: a warning, and the instance is left out; with strict, the parse fails."""
        if self.get_option('strict'):
            raise AnsibleParserError(self._say('lmcache.kvcache.coordinator: %s (strict: true)' % text))
        self.display.warning(self._say('lmcache.kvcache.coordinator: %s; it is left out of the inventory' % text))

    def _read(self, url: str) -> t.Dict[str, t.Any]:
        """One coordinator's registrations and usage, each checked on its own: what the cache keeps."""
        params = dict((name, self.get_option(name)) for name in CONNECTION_ARGUMENT_SPEC if name != 'url')
        params.update(url=url)
        problems = connection_problems(params)
        if problems:
            raise AnsibleParserError('lmcache.kvcache.coordinator: %s' % '; '.join(problems).replace('url ', 'coordinator_url ', 1))
        client = Connector(params, warn=lambda text: self.display.warning(self._say(text))).client(url)
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

    def _validated(self, coordinator: t.Any) -> t.Dict[str, t.Any]:
        """The registrations that pass every check, and their usage, as plain values in the coordinator's own shape
        (so that checking the result again gives the same); one warning per registration that does not."""
        if not isinstance(coordinator, dict) or not isinstance(coordinator.get('url'), str) \
                or not isinstance(coordinator.get('instances'), list) or not isinstance(coordinator.get('usage'), list):
            raise AnsibleParserError('lmcache.kvcache.coordinator: the inventory cache holds something this plugin did '
                                     'not write; clear it (ansible-inventory --flush-cache)')
        checked = check_registrations(coordinator['instances'], coordinator['usage'], 'the coordinator %s' % coordinator['url'],
                                      reserved=(self.get_option('group'),), reserved_prefix=COORDINATOR_GROUP_PREFIX)
        for text in checked.ignored:
            self.display.warning(self._say('lmcache.kvcache.coordinator: %s' % text))
        for text in checked.refused:
            self._refuse(text)
        return dict(url=coordinator['url'], instances=checked.kept, usage=checked.usage)

    def _populate(self, coordinators: t.List[t.Dict[str, t.Any]]) -> None:
        group = self.inventory.add_group(self.get_option('group'))
        strict = self.get_option('strict')
        scheme = self.get_option('node_scheme')
        connection = self.get_option('connection')
        # Each host's node URL and the URL of the first coordinator it was registered with.
        first_seen: t.Dict[str, t.Tuple[str, str]] = {}
        added: t.List[str] = []
        for coordinator in coordinators:
            usage = dict((entry['instance_id'], usage_tiers(entry['modules'])) for entry in coordinator['usage'])
            coordinator_group = self.inventory.add_group(COORDINATOR_GROUP_PREFIX + _group_part(coordinator['url']))
            shared = dict(lmcache_coordinator_url=coordinator['url'])
            if connection:
                shared['ansible_connection'] = connection
                if connection == 'local':
                    # The controller's own Python: the interpreter of this process, ansible_playbook_python.
                    shared['ansible_python_interpreter'] = sys.executable
            # Registered values are data, never templates: they are plain values of our own making (checked, with
            # no __ansible* key), which ansible-core 2.19 and later never trust as templates, and the inventory
            # manager takes any trust off what a plugin sets (trusted_by_default is false). tests/fleet checks it.
            for key, value in shared.items():
                self.inventory.set_variable(coordinator_group, key, value)
            for instance in coordinator['instances']:
                name = instance['instance_id']
                url = node_url(scheme, instance['ip'], instance['http_port'], 'instance %s' % name)
                if name in first_seen and first_seen[name][0] != url:
                    renamed = '%s@%s' % (name, _group_part(coordinator['url']))
                    self.display.warning(self._say(
                        'lmcache.kvcache.coordinator: the instance id %s is registered with more than one coordinator at '
                        'different addresses; the one of %s (%s) is named %s' % (name, coordinator['url'], url, renamed)))
                    name = renamed
                if name in first_seen:
                    # The first coordinator's URL stays the host's, whatever the order of its groups' variables.
                    self.inventory.set_variable(name, 'lmcache_coordinator_url', first_seen[name][1])
                    self.inventory.add_child(coordinator_group, name)
                    continue
                first_seen[name] = (url, coordinator['url'])
                host = self.inventory.add_host(name, group=group)
                added.append(host)
                self.inventory.add_child(coordinator_group, host)
                own = dict(
                    lmcache_url=url,
                    lmcache_instance_id=instance['instance_id'],
                    lmcache_registration_time=instance['registration_time'],
                    lmcache_metadata=instance['metadata'],
                )
                if self.get_option('usage'):
                    own['lmcache_usage'] = usage.get(instance['instance_id'])
                for key, value in own.items():
                    self.inventory.set_variable(host, key, value)
                # compose, groups and keyed_groups see every variable the plugin gives the host.
                variables = dict(shared, **own)
                self._set_composite_vars(self.get_option('compose'), variables, host, strict=strict)
                self._add_host_to_composed_groups(self.get_option('groups'), variables, host, strict=strict)
                self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, host, strict=strict)
        self._drop_hosts_named_like_groups(added)

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
