# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The declared state of an LMCache engine inside vLLM: freeze, hot cache, the bypassed backends, and the
configuration keys it reads at runtime. Read, compared, changed where it differs, read again.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils import _engine
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError
from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import ENGINE
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Operation, Plan
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import masked_config

# The declared states, in the order they are read and changed.
STATES = ('freeze', 'hot_cache', 'bypassed_backends', 'config')


class EngineState(Operation):
    """Freeze on or off, hot cache on or off, the exact set of bypassed backends, runtime configuration values."""

    per_worker = True

    argument_spec = dict(
        freeze=dict(type='bool'),
        hot_cache=dict(type='bool'),
        # Backend names (validate-modules reads "pass" in the name as a password's).
        bypassed_backends=dict(type='list', elements='str', no_log=False),
        config=dict(type='dict'),
    )

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[t.Any]) -> t.List[str]:
        problems = []
        if all(params.get(name) is None for name in STATES):
            problems.append('declare at least one of %s' % ', '.join(STATES))
        refused = sorted(set(params.get('config') or {}) - set(_engine.RUNTIME_CONFIG))
        if refused:
            problems.append('config takes only the keys an LMCache engine reads at runtime (%s); %s %s read once, when '
                            'it starts: change them in its configuration and restart it'
                            % (', '.join(_engine.RUNTIME_CONFIG), ', '.join(refused), 'is' if len(refused) == 1 else 'are'))
        return problems

    def wanted(self) -> t.List[str]:
        return [name for name in STATES if self.params.get(name) is not None]

    def read(self) -> t.Dict[str, t.Any]:
        node = self.node
        if node.kind != ENGINE:
            raise LMCacheError('%s is an LMCache server, not an engine inside vLLM: freeze, hot cache, bypassed '
                               'backends and runtime configuration are the engine\'s (its internal API server)'
                               % node.describe())
        client = node.client
        state: t.Dict[str, t.Any] = {}
        for name in self.wanted():
            if name in ('freeze', 'hot_cache'):
                state[name] = _engine.flag(client, name)
            elif name == 'bypassed_backends':
                state[name], state['backends'] = _engine.bypass(client)
            else:
                state[name] = _engine.config(client, sorted(self.params['config']))
        return state

    def plan(self, before: t.Dict[str, t.Any]) -> Plan:
        changes: t.List[t.Tuple[t.Any, ...]] = []
        after = dict(before)
        for name in ('freeze', 'hot_cache'):
            if name in before and before[name] != self.params[name]:
                changes.append((name, self.params[name]))
                after[name] = self.params[name]
        if 'bypassed_backends' in before:
            wanted = sorted(set(self.params['bypassed_backends']))
            unknown = sorted(set(wanted) - set(before['backends']))
            if unknown:
                raise LMCacheError('%s has no backend %s; its backends: %s' % (
                    self.node.describe(), ', '.join(unknown), ', '.join(before['backends']) or 'none'))
            changes += [('bypass', b, True) for b in wanted if b not in before['bypassed_backends']]
            changes += [('bypass', b, False) for b in before['bypassed_backends'] if b not in wanted]
            after['bypassed_backends'] = wanted
        if 'config' in before:
            differing = dict((key, value) for key, value in self.params['config'].items()
                             if not _same(before['config'].get(key), value))
            if differing:
                changes.append(('config', differing))
                after['config'] = dict(before['config'], **differing)
        return Plan(changes, after=after)

    def apply(self, plan: Plan) -> None:
        client = self.node.client
        for change in plan.changes:
            if change[0] in ('freeze', 'hot_cache'):
                _engine.set_flag(client, change[0], change[1])
            elif change[0] == 'bypass':
                _engine.set_bypass(client, change[1], change[2])
            else:
                _engine.set_config(client, change[1])

    def read_after(self, plan: Plan, before: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        after = self.read()
        if self.plan(after).changes:
            raise LMCacheError('%s answered every change, but a read after them shows %s' % (
                self.node.describe(), '; '.join(_said(change) for change in self.plan(after).changes)))
        return after

    def report(self, before: t.Dict[str, t.Any], after: t.Dict[str, t.Any], plan: Plan) -> t.Dict[str, t.Any]:
        return dict(before=self._shown(before), after=self._shown(after), kind=self.node.kind)

    def _shown(self, state: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        shown = dict((name, state[name]) for name in STATES if name in state)
        if 'config' in shown:
            shown['config'] = masked_config(shown['config'])
        return shown

    def diff(self, before: t.Dict[str, t.Any], after: t.Dict[str, t.Any]) -> t.Dict[str, t.Any]:
        return dict(before=self._shown(before), after=self._shown(after))

    def message(self, before: t.Any, after: t.Any, plan: t.Optional[Plan]) -> str:
        if plan is None or not plan.changes:
            return '%s is as declared.' % self.node.describe()
        return '%s %s on %s.' % ('Would change' if self.ctx.check_mode else 'Changed',
                                 '; '.join(_said(change) for change in plan.changes), self.node.describe())


def _same(current: t.Any, wanted: t.Any) -> bool:
    """A configuration value as the engine holds it and as declared: numbers by value, a declared string of a number
    or a boolean as the engine reads one."""
    if isinstance(current, bool) or isinstance(wanted, bool):
        return str(current).lower() == str(wanted).lower()
    if isinstance(current, (int, float)) and isinstance(wanted, (int, float, str)):
        try:
            return float(current) == float(wanted)
        except ValueError:
            return False
    return current == wanted


def _said(change: t.Tuple[t.Any, ...]) -> str:
    if change[0] in ('freeze', 'hot_cache'):
        return '%s %s' % (change[0].replace('_', ' '), 'on' if change[1] else 'off')
    if change[0] == 'bypass':
        return '%s backend %s' % ('bypass' if change[2] else 'stop bypassing', change[1])
    return 'configuration %s' % ', '.join(sorted(change[1]))
