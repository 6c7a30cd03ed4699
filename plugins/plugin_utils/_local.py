# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The lean per-host path: a module whose host is the controller (a local connection, or delegate_to: localhost) runs
in the Ansible worker that already exists for the task, instead of in a new Python process.

A module task spends most of its time outside the module: building its AnsiballZ payload, writing it out, starting a
Python interpreter and importing ansible.module_utils.basic. For hosts reached over SSH that is the price of running
on the host; for the controller it buys nothing. The same operation runs either way (module_utils/_runner.py), with
the same option checks, messages, results and masking of secrets.

Private to this collection.
"""

from __future__ import annotations

import os
import sys
import typing as t

from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action.normal import ActionModule as NormalAction

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import redact_url
from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import CONNECTION_ARGUMENT_SPEC
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import BY_MODULE, Entry
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Context, execute, prepare_args, refused
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._compat import base_result, task_environment

# The host variable the coordinator inventory sets to false for node URLs no networks setting vouches for.
VOUCHED_VAR = 'lmcache_url_vouched'


def masked(value: t.Any, values: t.Collection[str]) -> t.Any:
    """The value with every secret masked, as AnsibleModule masks a module's result (remove_values), so that the
    module and the controller paths print the same."""
    return remove_values(value, set(values)) if values else value


class Environment:
    """The task's environment (its `environment:` keyword) in os.environ while options fall back to it.

    Safe to change: each task runs in its own forked worker process.
    """

    def __init__(self, variables: t.Mapping[str, t.Any]) -> None:
        self.variables = dict((str(k), str(v)) for k, v in variables.items())
        self.saved: t.Dict[str, t.Optional[str]] = {}

    def __enter__(self) -> 'Environment':
        for name, value in self.variables.items():
            self.saved[name] = os.environ.get(name)
            os.environ[name] = value
        return self

    def __exit__(self, *exc: t.Any) -> None:
        for name, value in self.saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_operation(entry: Entry, args: t.Mapping[str, t.Any], check_mode: bool, diff: bool) -> t.Dict[str, t.Any]:
    """Check the options as the module would, run the operation, and return its result with secrets masked."""
    prepared = prepare_args(entry.operation, args, entry.for_request)
    params = prepared.params
    if prepared.problems:
        result = refused(prepared.problems, None if prepared.invalid else redact_url(params['url'] or ''))
    else:
        notes: t.List[str] = []
        ctx = Context(params, check_mode=check_mode, diff=diff, warn=notes.append)
        result = execute(prepared.operation(params, ctx, prepared.request))
        if notes:
            result['warnings'] = notes
    result['invocation'] = dict(module_args=remove_values(params, prepared.hidden))
    return masked(result, prepared.hidden)


def option_names(entry: Entry) -> t.List[str]:
    """Every option the entry's module takes but url and url_vouched (the URL a lookup or the event source runs on
    decides both): the connection options and the operation's own."""
    return [name for name in list(CONNECTION_ARGUMENT_SPEC) + list(entry.operation.argument_spec)
            if name not in ('url', 'url_vouched')]


def run_on(entry: Entry, url: str, options: t.Mapping[str, t.Any], vouched: bool = True) -> t.Dict[str, t.Any]:
    """run_operation on `url` with those of `options` the module takes (unset ones left to their defaults): the way
    the lookups and the event source run an operation per URL. `vouched`: whether the API key may go to `url`."""
    args = dict((name, options[name]) for name in option_names(entry) if options.get(name) is not None)
    return run_operation(entry, dict(args, url=url, url_vouched=vouched), check_mode=False, diff=False)


class ModuleOnController(NormalAction):
    """The action of every lmcache.kvcache module: in this process when the host is the controller, else the module."""

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        entry = BY_MODULE.get((self._task.resolved_action or self._task.action).rsplit('.', 1)[-1])
        self._withhold_key_from_unvouched_url(task_vars or {})
        if entry is None or not self._on_controller(task_vars or {}):
            return super().run(tmp, task_vars)
        result = base_result(self, tmp, task_vars)
        with Environment(task_environment(self)):
            result.update(run_operation(entry, self._task.args, bool(self._task.check_mode or self._play_context.check_mode),
                                        bool(self._task.diff)))
        return result

    def _withhold_key_from_unvouched_url(self, task_vars: t.Mapping[str, t.Any]) -> None:
        """A task whose url is its host's lmcache_url, on a host whose lmcache_url_vouched is false (the coordinator
        inventory found the address in a registry no networks setting vouches for): url_vouched=false, so that no API
        key goes there whatever the task's api_key, module_defaults or LMCACHE_API_KEY say. A url_vouched the task
        sets itself is the operator's word and stays."""
        args = self._task.args
        if 'url_vouched' in args or task_vars.get(VOUCHED_VAR) is not False or not isinstance(args.get('url'), str):
            return
        host_url = task_vars.get('lmcache_url')
        if isinstance(host_url, str) and args['url'].rstrip('/') == host_url.rstrip('/'):
            args['url_vouched'] = False

    def _on_controller(self, task_vars: t.Mapping[str, t.Any]) -> bool:
        """A local connection, not async, no privilege escalation, and no Python chosen for the host but the one running
        Ansible: then a module process would only cost time."""
        if getattr(self._connection, 'transport', None) != 'local' or self._task.async_val or self._play_context.become:
            return False
        interpreter = task_vars.get('ansible_python_interpreter')
        if interpreter and not str(interpreter).startswith('auto'):
            interpreter = self._templar.template(interpreter)
            return os.path.realpath(str(interpreter)) == os.path.realpath(sys.executable)
        return True
