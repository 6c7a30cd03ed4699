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
  - Talks to the coordinators with the same HTTP client as the modules, with the same TLS, key, timeout and retry
    options. The inventory file's name must end with C(lmcache.yml) or C(lmcache.yaml).
author:
  - LMCache maintainers (@LMCache)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
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
  api_key:
    description:
      - API key for the coordinators, sent as an C(Authorization) Bearer header. LMCache's coordinator has no keys
        yet; set it for a coordinator behind a gateway that checks one.
    type: str
    env:
      - name: LMCACHE_API_KEY
  validate_certs:
    description: Whether to verify the coordinators' TLS certificates.
    type: bool
    default: true
  ca_path:
    description: CA certificate(s) to verify the coordinators' TLS certificates with, instead of the system's.
    type: path
  client_cert:
    description: Client certificate (PEM) for coordinators that require mutual TLS.
    type: path
  client_key:
    description: Private key (PEM) of O(client_cert), if that file does not hold it.
    type: path
  timeout:
    description: Seconds to wait for a connection, and for each read of an answer.
    type: float
    default: 10
  retries:
    description: Retries of a request that failed to connect, timed out, or was answered with HTTP 429, 502, 503 or 504.
    type: int
    default: 3
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
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.lmcache.kvcache.plugins.module_utils._api import read_list
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError, redact_url
from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import Connector, connection_problems


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
            coordinators = [self._read(url) for url in urls]
            if self.get_option('cache'):
                self._cache[cache_key] = coordinators
        self._populate(coordinators)

    def _read(self, url: str) -> t.Dict[str, t.Any]:
        """One coordinator's instances (and usage): what the cache keeps."""
        params = dict((name, self.get_option(name)) for name in (
            'api_key', 'validate_certs', 'ca_path', 'client_cert', 'client_key', 'timeout', 'retries'))
        params.update(url=url, deadline=max(30.0, float(params['timeout']) * (int(params['retries']) + 1) * 2))
        problems = connection_problems(params)
        if problems:
            raise AnsibleParserError('lmcache.kvcache.coordinator: %s' % '; '.join(problems).replace('url ', 'coordinator_url ', 1))
        client = Connector(params, warn=self.display.warning).client(url)
        try:
            reply = client.request('GET', '/instances', max_bytes=64 * 1024 * 1024)
            instances = read_list(reply, reply.json_object(), 'instances')
            usage: t.List[t.Any] = []
            if self.get_option('usage'):
                answer = client.request('GET', '/instances/usage', max_bytes=64 * 1024 * 1024)
                usage = read_list(answer, answer.json_object(), 'instances')
        except LMCacheError as exc:
            raise AnsibleParserError('lmcache.kvcache.coordinator: cannot read the LMCache coordinator %s: %s'
                                     % (redact_url(url), exc))
        finally:
            client.close()
        for number, instance in enumerate(instances):
            if not isinstance(instance, dict) or not isinstance(instance.get('instance_id'), str) \
                    or not isinstance(instance.get('ip'), str) or not isinstance(instance.get('http_port'), int):
                raise AnsibleParserError(
                    'lmcache.kvcache.coordinator: GET %s/instances: cannot read instances[%d]: %r, expected an object with '
                    'instance_id (a string), ip (a string) and http_port (a number)' % (redact_url(url), number, instance))
        return dict(url=redact_url(url), instances=instances,
                    usage=dict((u.get('instance_id'), _usage(u)) for u in usage if isinstance(u, dict)))

    def _populate(self, coordinators: t.List[t.Dict[str, t.Any]]) -> None:
        group = self.inventory.add_group(self.get_option('group'))
        strict = self.get_option('strict')
        scheme = self.get_option('node_scheme')
        connection = self.get_option('connection')
        urls_by_host: t.Dict[str, str] = {}
        for coordinator in coordinators:
            coordinator_group = self.inventory.add_group('lmcache_coordinator_%s' % _group_part(coordinator['url']))
            for instance in coordinator['instances']:
                address = instance['ip']
                node_url = '%s://%s:%d' % (scheme, '[%s]' % address if ':' in address else address, instance['http_port'])
                name = instance['instance_id']
                if name in urls_by_host and urls_by_host[name] != node_url:
                    self.display.warning('lmcache.kvcache.coordinator: instance id %s is registered with two coordinators '
                                         'at different addresses; the one of %s is named %s@%s'
                                         % (name, coordinator['url'], name, _group_part(coordinator['url'])))
                    name = '%s@%s' % (name, _group_part(coordinator['url']))
                urls_by_host[name] = node_url
                host = self.inventory.add_host(name, group=group)
                self.inventory.add_child(coordinator_group, host)
                variables = dict(
                    lmcache_url=node_url,
                    lmcache_instance_id=instance['instance_id'],
                    lmcache_coordinator_url=coordinator['url'],
                    lmcache_registration_time=instance.get('registration_time'),
                    lmcache_metadata=instance.get('metadata') if isinstance(instance.get('metadata'), dict) else {},
                )
                if self.get_option('usage'):
                    variables['lmcache_usage'] = coordinator['usage'].get(instance['instance_id'])
                if connection:
                    variables['ansible_connection'] = connection
                    if connection == 'local':
                        # The controller's own Python: the interpreter of this process, ansible_playbook_python.
                        variables['ansible_python_interpreter'] = sys.executable
                for key, value in variables.items():
                    self.inventory.set_variable(host, key, value)
                self._set_composite_vars(self.get_option('compose'), variables, host, strict=strict)
                self._add_host_to_composed_groups(self.get_option('groups'), variables, host, strict=strict)
                self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, host, strict=strict)


def _usage(entry: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
    """{'l1': {used_bytes, capacity_bytes, usage_ratio}, 'l2': {...}} from one instance's usage modules."""
    tiers: t.Dict[str, t.Any] = {}
    for module in entry.get('modules') or []:
        if isinstance(module, dict) and module.get('tier') in ('l1', 'l2'):
            tier = tiers.setdefault(module['tier'], dict(used_bytes=0, capacity_bytes=0, usage_ratio=None))
            tier['used_bytes'] += module.get('used_bytes') or 0
            tier['capacity_bytes'] += module.get('capacity_bytes') or 0
            if tier['capacity_bytes']:
                tier['usage_ratio'] = float(tier['used_bytes']) / tier['capacity_bytes']
    return tiers


def _group_part(url: str) -> str:
    """'http://coordinator.example.com:9300' -> 'coordinator_example_com_9300' (a valid group name part)."""
    return re.sub(r'[^A-Za-z0-9_]', '_', re.sub(r'^[a-z]+://', '', url).rstrip('/'))
