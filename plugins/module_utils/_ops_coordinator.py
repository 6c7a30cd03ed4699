# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Operations on an LMCache coordinator itself (its url is the coordinator's): the instances registered with it.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import env_fallback

from ansible_collections.lmcache.kvcache.plugins.module_utils._models import check_registrations, usage_tiers
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Operation, Plan
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import coordinator_registrations
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import node_url


class CoordinatorInstances(Operation):
    """The instances registered with a coordinator, each registration checked on its own: anything that can reach a
    coordinator can register, so a bad registration is left out with a warning that names it, never passed on."""

    argument_spec = dict(
        # The coordinator's URL: in place of the connection options' url, whose default and environment are a node's.
        url=dict(type='str', fallback=(env_fallback, ['LMCACHE_COORDINATOR_URL'])),
        usage=dict(type='bool', default=False),
        node_scheme=dict(type='str', default='http', choices=['http', 'https']),
    )

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[t.Any]) -> t.List[str]:
        return [] if params.get('url') else ['url is required: the coordinator\'s URL (or LMCACHE_COORDINATOR_URL)']

    def read(self) -> t.Dict[str, t.Any]:
        client = self.node.client
        instances, usage = coordinator_registrations(client, self.params['usage'])
        checked = check_registrations(instances, usage, 'the coordinator %s' % client.display_url)
        for text in checked.ignored:
            self.ctx.warn(text)
        for text in checked.refused:
            self.ctx.warn('%s; it is left out' % text)
        tiers = dict((entry['instance_id'], usage_tiers(entry['modules'])) for entry in checked.usage)
        kept = []
        for registration in checked.kept:
            url = node_url(self.params['node_scheme'], registration['ip'], registration['http_port'],
                           'instance %s' % registration['instance_id'])
            entry = dict(registration, url=url)
            if self.params['usage']:
                entry['usage'] = tiers.get(registration['instance_id'])
            kept.append(entry)
        return dict(instances=kept, left_out=checked.refused)

    def report(self, before: t.Dict[str, t.Any], after: t.Any, plan: Plan) -> t.Dict[str, t.Any]:
        return dict(before)

    def message(self, before: t.Any, after: t.Any, plan: t.Optional[Plan]) -> str:
        left_out = len(before['left_out'])
        return '%d instances are registered with the coordinator %s%s.' % (
            len(before['instances']), self.node.url, '; %d left out, see the warnings' % left_out if left_out else '')
