# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Operations on an LMCache coordinator itself (its url is the coordinator's): the instances registered with it, and
taking one off.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import env_fallback

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError, squash
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Operation, Plan
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import coordinator_registrations
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import Untrusted, path_segment
from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import NETWORKS_ARGUMENT_SPEC, Networks, read_registry


class CoordinatorInstances(Operation):
    """The instances registered with a coordinator, through the one registry reader (_vouching.py): anything that can
    reach a coordinator can register, so a bad registration, or one outside networks, is left out with a warning that
    names it, never passed on."""

    argument_spec = dict(
        # The coordinator's URL: in place of the connection options' url, whose default and environment are a node's.
        url=dict(type='str', fallback=(env_fallback, ['LMCACHE_COORDINATOR_URL'])),
        usage=dict(type='bool', default=False),
        node_scheme=dict(type='str', default='http', choices=['http', 'https']),
        strict=dict(type='bool', default=False),
        **NETWORKS_ARGUMENT_SPEC
    )

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[t.Any]) -> t.List[str]:
        return [] if params.get('url') else ['url is required: the coordinator\'s URL (or LMCACHE_COORDINATOR_URL)']

    def read(self) -> t.Dict[str, t.Any]:
        registry = read_registry(self.node.client, Networks(self.params.get('networks')), self.params['node_scheme'],
                                 self.params['usage'])
        if registry.left_out and self.params['strict']:
            raise LMCacheError('; '.join(registry.left_out) + ' (strict: true)')
        for text in registry.ignored:
            self.ctx.warn(text)
        for text in registry.left_out:
            self.ctx.warn('%s; it is left out' % text)
        return dict(instances=registry.kept, left_out=registry.left_out, outside=registry.outside)

    def report(self, before: t.Dict[str, t.Any], after: t.Any, plan: Plan) -> t.Dict[str, t.Any]:
        return dict(before)

    def message(self, before: t.Any, after: t.Any, plan: t.Optional[Plan]) -> str:
        left_out = len(before['left_out'])
        return '%d instances are registered with the coordinator %s%s.' % (
            len(before['instances']), self.node.url, '; %d left out, see the warnings' % left_out if left_out else '')


class Deregistration(Operation):
    """Take one instance off a coordinator's registry (DELETE /instances/{instance_id}, which LMCache's coordinator
    answers 204 whether or not it was there): what a registration outside the fleet's networks calls for."""

    argument_spec = dict(
        url=dict(type='str', fallback=(env_fallback, ['LMCACHE_COORDINATOR_URL'])),
        instance_id=dict(type='str', required=True),
        state=dict(type='str', default='absent', choices=['absent']),
        **NETWORKS_ARGUMENT_SPEC
    )

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[t.Any]) -> t.List[str]:
        problems = CoordinatorInstances.option_problems(params, request)
        try:
            path_segment(params['instance_id'], 'instance_id')
        except Untrusted as exc:
            problems.append(str(exc))
        return problems

    def read(self) -> t.Dict[str, t.Any]:
        """Whether the instance is registered, and where: read raw, since a registration the reader would leave out
        (an address that is not one) is the kind to take off."""
        instances, _usage = coordinator_registrations(self.node.client, False)
        wanted = self.params['instance_id']
        found = [i for i in instances if isinstance(i, dict) and i.get('instance_id') == wanted]
        addresses = sorted(set('%s:%s' % (squash(str(i.get('ip')))[:100], squash(str(i.get('http_port')))[:10]) for i in found))
        return dict(registered=bool(found), addresses=addresses, vouched=bool(found) and self._vouched(found))

    def _vouched(self, found: t.List[t.Dict[str, t.Any]]) -> bool:
        """Whether networks vouches for every address the instance is registered at: then it is one of the fleet's."""
        networks = Networks(self.params.get('networks'))
        return networks.given and all(isinstance(i.get('ip'), str) and networks.vouches(i['ip']) for i in found)

    def plan(self, before: t.Dict[str, t.Any]) -> Plan:
        if not before['registered'] or before['vouched']:
            return Plan(after=before)
        return Plan(['deregister'], after=dict(registered=False, addresses=[], vouched=False))

    def apply(self, plan: Plan) -> None:
        self.node.client.request('DELETE', '/instances/%s' % path_segment(self.params['instance_id'], 'instance_id'),
                                 accept=(404,))

    def changed_after(self, before: t.Dict[str, t.Any], after: t.Dict[str, t.Any], plan: Plan) -> bool:
        return bool(plan.changes) and (self.ctx.check_mode or before['registered'] != after['registered'])

    def report(self, before: t.Dict[str, t.Any], after: t.Dict[str, t.Any], plan: Plan) -> t.Dict[str, t.Any]:
        return dict(instance_id=self.params['instance_id'], registered=after['registered'], addresses=before['addresses'],
                    kept_vouched=before['vouched'])

    def message(self, before: t.Dict[str, t.Any], after: t.Any, plan: t.Optional[Plan]) -> str:
        where = '%s at %s' % (self.params['instance_id'], ', '.join(before['addresses']))
        if not before['registered']:
            return '%s is not registered with the coordinator %s.' % (self.params['instance_id'], self.node.url)
        if before['vouched']:
            return ('%s is kept: networks vouches for its address, so it is one of the fleet\'s. Leave networks unset '
                    'to take it off all the same.' % where)
        if self.ctx.check_mode:
            return 'Would deregister %s from the coordinator %s.' % (where, self.node.url)
        if after['registered']:
            return ('Deregistered %s from the coordinator %s, which lists it again: it registered anew (its heartbeat '
                    'or a new registration).' % (where, self.node.url))
        return 'Deregistered %s from the coordinator %s.' % (where, self.node.url)

    def diff(self, before: t.Dict[str, t.Any], after: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        def view(state: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
            return dict(registered=state['registered'], addresses=state['addresses'])
        return dict(before=view(before), after=view(after))
