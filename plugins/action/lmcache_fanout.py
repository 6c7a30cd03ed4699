# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache_fanout: one task that runs an operation against many LMCache endpoints at once, from the controller.

Each endpoint runs the very operation its module runs on a host (module_utils/_registry.py), with the same client,
checks, messages and result fields; only the transport differs: threads in this process instead of one Python
process per host. See docs/docsite/rst/fleet_scale.rst for why this is an action plugin.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
import typing as t

from ansible import constants as C
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import DiscoveryCache
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import Deadline, plain_number, redact_url
from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import (
    CONNECTION_ARGUMENT_SPEC, api_key_secrets, connection_problems, url_problems)
from ansible_collections.lmcache.kvcache.plugins.module_utils._proxy import Proxies
from ansible_collections.lmcache.kvcache.plugins.module_utils._registry import FLEET_WIDE, OPERATIONS, PER_ENDPOINT
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import Context, execute, failure, prepare_args
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._compat import task_environment
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._hostvars import host_variables
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._local import VOUCHED_VAR, Environment, masked
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._parallel import run_concurrently
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._report import write_files

MAX_CONCURRENCY = 1024
MAX_WARNINGS = 20
# details=auto: every endpoint's result up to this many endpoints; above, the exceptions only (a bounded result).
DETAILS_ALL_MAX = 100

FANOUT_SPEC: t.Dict[str, t.Dict[str, t.Any]] = dict(
    CONNECTION_ARGUMENT_SPEC,
    operation=dict(type='str', required=True, choices=PER_ENDPOINT),
    args=dict(type='dict', default={}),
    hosts=dict(type='raw'),
    exclude_hosts=dict(type='list', elements='str', default=[]),
    endpoints=dict(type='list', elements='raw'),
    url_var=dict(type='str', default='lmcache_url'),
    api_key_var=dict(type='str', default='lmcache_api_key'),
    concurrency=dict(type='int', default=64),
    batches=dict(type='list', elements='raw'),
    max_fail_percentage=dict(type='float', default=0.0),
    details=dict(type='str', default='auto', choices=['auto', 'all', 'exceptions']),
    details_file=dict(type='path'),
    details_tmp=dict(type='bool', default=False),
)
FANOUT_MUTUALLY_EXCLUSIVE = [('hosts', 'endpoints'), ('exclude_hosts', 'endpoints'), ('details_file', 'details_tmp')]
# Options of the fan-out itself, which never reach an operation.
OWN_OPTIONS = frozenset(('operation', 'args', 'hosts', 'exclude_hosts', 'endpoints', 'url_var', 'api_key_var', 'concurrency', 'batches',
                         'max_fail_percentage', 'details', 'details_file', 'details_tmp'))


class Endpoint:
    """One endpoint: its name in the results, its URL (or why it is not run), its own API key (None: the task's), and
    whether its URL is vouched for (False: a host whose lmcache_url_vouched is false gets no key at all)."""

    def __init__(self, name: str, url: t.Any, key: t.Optional[str] = None, vouched: bool = True) -> None:
        self.name = name
        self.url = url
        self.key = key
        self.vouched = vouched


class FanoutError(Exception):
    """A problem with the fan-out's own options: nothing was sent to any endpoint."""


def batch_sizes(batches: t.Optional[t.List[t.Any]], total: int, writes: bool) -> t.List[int]:
    """The sizes of the consecutive batches, like a play's `serial` (the last size repeats)."""
    spec = batches if batches else ([1, '100%'] if writes else ['100%'])
    sizes = []
    for item in spec:
        text = str(item).strip()
        try:
            # A percentage is at least one endpoint, as a play's serial: also of no endpoint at all (all excluded).
            size = max(1, math.ceil(total * float(text[:-1]) / 100.0)) if text.endswith('%') else int(text)
        except ValueError:
            raise FanoutError('batches takes numbers of endpoints or percentages such as 25%%, got %r' % (item,))
        if text.endswith('%') and not 0 < float(text[:-1]) <= 100:
            raise FanoutError('a batch percentage must be more than 0%% and at most 100%%, got %r' % (item,))
        if size < 1:
            raise FanoutError('a batch must hold at least 1 endpoint, got %r' % (item,))
        sizes.append(size)
    result = []
    remaining = total
    index = 0
    while remaining > 0:
        size = min(sizes[min(index, len(sizes) - 1)], remaining)
        result.append(size)
        remaining -= size
        index += 1
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        environment = task_environment(self)
        try:
            # Options fall back to the task's environment (LMCACHE_API_KEY...) as a module's do on its host.
            with Environment(environment):
                plan = self._prepare(task_vars)
        except FanoutError as exc:
            result.update(failed=True, changed=False, msg=str(exc))
            return result
        # Every endpoint's requests take their proxies from the task's environment too, as the module would.
        result.update(self._fan_out(*plan, proxies=Proxies(dict(os.environ, **dict((str(k), str(v)) for k, v in environment.items())))))
        return result

    # -- options -------------------------------------------------------------------------------------------------

    def _prepare(self, task_vars: t.Dict[str, t.Any]) -> t.Tuple[t.Any, ...]:
        validated = ArgumentSpecValidator(FANOUT_SPEC, mutually_exclusive=FANOUT_MUTUALLY_EXCLUSIVE).validate(dict(self._task.args))
        if validated.error_messages:
            raise FanoutError('lmcache_fanout: %s' % '; '.join(validated.error_messages))
        own = validated.validated_parameters
        entry = OPERATIONS[own['operation']]
        hosts_in_play = task_vars.get('ansible_play_hosts_all') or []
        if len(hosts_in_play) > 1 and not self._task.run_once:
            raise FanoutError('lmcache_fanout runs against every endpoint itself: run it once (run_once: true, or a play '
                              'on localhost), not once per host of the play (%d hosts)' % len(hosts_in_play))
        if not 1 <= own['concurrency'] <= MAX_CONCURRENCY:
            raise FanoutError('concurrency must be from 1 to %d, got %d' % (MAX_CONCURRENCY, own['concurrency']))
        if not 0 <= own['max_fail_percentage'] <= 100:
            raise FanoutError('max_fail_percentage must be from 0 to 100, got %s' % own['max_fail_percentage'])
        # The operation's options: `args`, over the connection options given to the fan-out (or module_defaults).
        operation_args = dict((k, v) for k, v in self._task.args.items() if k not in OWN_OPTIONS and k != 'url')
        operation_args.update(own['args'])
        if 'url' in own['args']:
            raise FanoutError('args.url is not used by the fan-out: each endpoint\'s URL comes from its host (url_var) or endpoints')
        # Each endpoint's own URL is checked and used in place of url (which keeps its default here, unchecked).
        prepared = prepare_args(entry.operation, operation_args, entry.for_request, url_options=('coordinator_url',))
        if prepared.problems:
            raise FanoutError('lmcache_fanout %s: %s' % (own['operation'], '; '.join(prepared.problems)))
        operation, request, params = prepared.operation, prepared.request, prepared.params
        if own['operation'] in FLEET_WIDE and request is not None and request.by_tokens:
            raise FanoutError('%s by token sequence goes through the coordinator and covers the whole fleet: run '
                              'lmcache.kvcache.%s once instead of once per endpoint' % (own['operation'], entry.module))
        endpoints, excluded = self._endpoints(own, task_vars)
        sizes = batch_sizes(own['batches'], len(endpoints), entry.writes)
        hidden = sorted(prepared.hidden | set(value for endpoint in endpoints for value in api_key_secrets(endpoint.key)))
        return own, operation, request, params, endpoints, excluded, sizes, hidden

    def _endpoints(self, own: t.Dict[str, t.Any], task_vars: t.Dict[str, t.Any]) -> t.Tuple[t.List[Endpoint], int]:
        """The endpoints, from `endpoints` (URLs the operator wrote: vouched for), or from the hosts' url_var,
        api_key_var and lmcache_url_vouched; and how many hosts exclude_hosts left out."""
        endpoints: t.List[Endpoint] = []
        excluded = 0
        if own['endpoints'] is not None:
            for number, item in enumerate(own['endpoints']):
                if isinstance(item, str):
                    endpoints.append(Endpoint(redact_url(item), item))
                elif isinstance(item, dict) and isinstance(item.get('url'), str):
                    endpoints.append(Endpoint(str(item.get('name') or redact_url(item['url'])), item['url'],
                                              _own_key(item.get('api_key'), 'endpoints[%d].api_key' % number)))
                else:
                    raise FanoutError('endpoints[%d] must be a URL or a dict with url (and name, api_key), not %s'
                                      % (number, type(item).__name__ if isinstance(item, dict) else repr(item)))
        else:
            groups = task_vars.get('groups') or {}
            every_host = set(groups.get('all') or [])
            names = self._host_names(own['hosts'], task_vars, groups, every_host)
            left_out = _excluded(own['exclude_hosts'], every_host)
            if left_out:
                kept = [name for name in names if name not in left_out]
                excluded, names = len(names) - len(kept), kept
                if not names:
                    # A gate that left out every host: nothing to run, which is not a mistake in the options.
                    return [], excluded
            # Read from the inventory, not through hostvars (a variable manager lookup per host), where that is the same.
            found = host_variables(task_vars, names, (own['url_var'], own['api_key_var'], VOUCHED_VAR))
            for name in names:
                variables = found[name]
                url, key, vouched = variables.get(own['url_var']), variables.get(own['api_key_var']), variables.get(VOUCHED_VAR, True)
                endpoints.append(Endpoint(name, url if url else _NotRun('host %s has no %s: set it in the inventory, or '
                                                                        'url_var' % (name, own['url_var'])),
                                          _own_key(key, 'host %s: %s' % (name, own['api_key_var'])), vouched is not False))
        if not endpoints:
            raise FanoutError('lmcache_fanout has no endpoint to run on: hosts matched no host and endpoints is empty')
        return _unique_names(endpoints), excluded

    def _host_names(self, hosts: t.Any, task_vars: t.Dict[str, t.Any], groups: t.Dict[str, t.List[str]],
                    every_host: t.Set[str]) -> t.List[str]:
        if hosts is None:
            names = list(task_vars.get('ansible_play_hosts') or [])
            if names == ['localhost'] or not names:
                raise FanoutError('set hosts (a group, a host, or a list of hosts) or endpoints: this play runs on '
                                  'localhost only')
            return names
        names = []
        if isinstance(hosts, list):
            # A list is the hosts a play decided on (the health gate's survivors): each item is that one host, never
            # re-read as a group of the same name. An item that is no host may name a group.
            for item in hosts:
                name = str(item)
                if name in every_host:
                    names.append(name)
                elif name in groups:
                    names.extend(groups[name])
                else:
                    raise FanoutError('hosts: %r is neither a host nor a group of the inventory' % name)
        else:
            for pattern in [part.strip() for part in str(hosts).split(',') if part.strip()]:
                if pattern in groups:
                    names.extend(groups[pattern])
                elif pattern in every_host:
                    names.append(pattern)
                else:
                    raise FanoutError('hosts: %r is neither a group nor a host of the inventory' % pattern)
        seen: t.Set[str] = set()
        return [n for n in names if not (n in seen or seen.add(n))]

    # -- the run -------------------------------------------------------------------------------------------------

    def _fan_out(self, own: t.Dict[str, t.Any], operation: t.Any, request: t.Any, params: t.Dict[str, t.Any],
                 endpoints: t.List[Endpoint], excluded: int, sizes: t.List[int], hidden: t.List[str],
                 proxies: Proxies) -> t.Dict[str, t.Any]:
        check_mode = bool(self._play_context.check_mode)
        diff_mode = bool(self._play_context.diff)
        deadline = Deadline(params['deadline'])
        discoveries = DiscoveryCache()
        started = time.monotonic()
        targets = _targets(endpoints, own['url_var'])
        warnings = _duplicates_warning(_duplicates(targets))
        by_name = dict((endpoint.name, endpoint) for endpoint in endpoints)

        def run_one(name: str) -> t.Dict[str, t.Any]:
            target = targets[name]
            if isinstance(target, _NotRun):
                # Found before any request: no client, no operation.
                outcome = dict(url=target.url, api_generation=None, version=None, status=None, changed=False,
                               msg=target.problem)
                outcome.update(dict(failed=True) if target.failed else dict(skipped=True, duplicate_of=target.duplicate_of))
                return outcome
            notes: t.List[str] = []
            endpoint = dict(params, url=target, url_vouched=by_name[name].vouched and params['url_vouched'],
                            api_key=by_name[name].key or params.get('api_key'))
            ctx = Context(endpoint, check_mode=check_mode, diff=diff_mode, warn=notes.append, deadline=deadline,
                          discoveries=discoveries, proxies=proxies)
            op = operation(endpoint, ctx, request)
            if deadline.remaining() <= 0:
                outcome = failure(op, 'not started: the task deadline of %ss passed first' % plain_number(params['deadline']))
            else:
                outcome = execute(op)
            if notes:
                outcome['warnings'] = notes
            return outcome

        order = [endpoint.name for endpoint in endpoints]
        results, batches_run, stopped = _run_in_batches(run_one, order, sizes, own['concurrency'],
                                                        own['max_fail_percentage'])
        for name in order:
            for note in results[name].pop('warnings', []):
                warnings.append('%s: %s' % (name, note))
        return self._report(own, results, order, excluded, sizes, batches_run, stopped, warnings, diff_mode,
                            time.monotonic() - started, hidden, operation.totals(list(results.values())))

    def _report(self, own: t.Dict[str, t.Any], results: t.Dict[str, t.Dict[str, t.Any]], order: t.List[str],
                excluded: int, sizes: t.List[int], batches_run: int, stopped: t.Optional[str], warnings: t.List[str], diff_mode: bool,
                seconds: float, hidden: t.List[str], totals: t.Optional[t.Dict[str, t.Any]]) -> t.Dict[str, t.Any]:
        summary = _summary(results, order, sizes, batches_run, stopped, seconds)
        summary['excluded'] = excluded
        if totals is not None:
            summary['totals'] = totals
        failed_names = [name for name in order if results[name].get('failed')]
        msg = '%s on %d endpoints in %.1fs: %d changed, %d unchanged, %d failed, %d rejected, %d not run.' % (
            own['operation'], summary['endpoints'], seconds, summary['changed'], summary['unchanged'], summary['failed'],
            summary['rejected'], summary['not_run'])
        if excluded:
            msg += ' %d hosts left out (exclude_hosts).' % excluded
        if stopped:
            msg += ' Stopped after %s.' % stopped
        if failed_names:
            msg += ' Failed: %s' % '; '.join('%s: %s' % (n, results[n].get('msg')) for n in failed_names[:5])
            if len(failed_names) > 5:
                msg += '; and %d more (see results)' % (len(failed_names) - 5)
        shown = _details(own['details'], results, order)
        if len(shown) < len(results):
            summary['results_left_out'] = len(results) - len(shown)
            msg += (' Results of %d endpoints that changed as asked or had nothing to do are left out (details=all, or '
                    'details_file, has every one).' % summary['results_left_out'])
        report: t.Dict[str, t.Any] = dict(changed=summary['changed'] > 0, results=shown, summary=summary, msg=msg,
                                          failed_hosts=failed_names)
        if stopped or (failed_names and own['max_fail_percentage'] == 0):
            report['failed'] = True
        if warnings:
            report['warnings'] = warnings[:MAX_WARNINGS] + (
                ['... and %d more warnings (see each endpoint\'s result)' % (len(warnings) - MAX_WARNINGS)]
                if len(warnings) > MAX_WARNINGS else [])
        if diff_mode:
            report['diff'] = [dict(r['diff'], before_header=n, after_header=n) for n in order if n in shown
                              for r in [shown[n]] if isinstance(r.get('diff'), dict) and r.get('changed')]
        if own['details_file'] or own['details_tmp']:
            where = own['details_file'] or 'a file in the local temporary directory %s' % C.DEFAULT_LOCAL_TMP
            try:
                report['details_file'] = (_write_details(own['details_file'], masked(results, hidden)) if own['details_file']
                                          else _write_details_tmp(masked(results, hidden)))
            except OSError as exc:
                problem = exc.strerror or str(exc)
                report.update(failed=True, msg='%s Cannot write %s: %s' % (msg, where, problem))
        return masked(report, hidden)


def _summary(results: t.Dict[str, t.Dict[str, t.Any]], order: t.List[str], sizes: t.List[int], batches_run: int,
             stopped: t.Optional[str], seconds: float) -> t.Dict[str, t.Any]:
    """What happened on how many endpoints: every endpoint is counted, whatever the result shows of them."""
    def count(test: t.Callable[[t.Dict[str, t.Any]], bool]) -> int:
        return sum(1 for name in order if test(results[name]))
    return dict(
        endpoints=len(order),
        changed=count(lambda r: bool(r.get('changed')) and not r.get('failed')),
        unchanged=count(lambda r: not r.get('changed') and not r.get('failed') and not r.get('skipped') and not r.get('rejected')),
        failed=count(lambda r: bool(r.get('failed'))),
        rejected=count(lambda r: bool(r.get('rejected'))),
        not_run=count(lambda r: bool(r.get('skipped'))),
        duplicates=count(lambda r: bool(r.get('duplicate_of'))),
        batches=sizes,
        batches_run=batches_run,
        stopped=stopped,
        seconds=round(seconds, 3),
    )


def _details(details: str, results: t.Dict[str, t.Dict[str, t.Any]], order: t.List[str]) -> t.Dict[str, t.Dict[str, t.Any]]:
    """The results the task returns: all, or (details=exceptions, or auto above DETAILS_ALL_MAX endpoints) those of the
    endpoints that failed, were rejected, were not run or answered that they are not healthy: what an operator has to
    look at, and what a health gate leaves out."""
    if details == 'all' or (details == 'auto' and len(order) <= DETAILS_ALL_MAX):
        return results
    return dict((name, results[name]) for name in order
                if any(results[name].get(flag) for flag in ('failed', 'rejected', 'skipped')) or results[name].get('healthy') is False)


def _write_details(path: str, results: t.Dict[str, t.Dict[str, t.Any]]) -> str:
    """Every endpoint's result as JSON, written as the reports are (a new temporary file, renamed over it)."""
    directory, name = os.path.split(os.path.abspath(path))
    write_files(directory, {name: (json.dumps(results, indent=1, sort_keys=True) + '\n').encode()}, check_mode=False)
    return os.path.join(directory, name)


def _write_details_tmp(results: t.Dict[str, t.Dict[str, t.Any]]) -> str:
    """Every endpoint's result as JSON in a new file of the run's own local temporary directory (made private for this
    ansible-playbook run, and removed with everything in it when the run ends), as Ansible's own copy and template
    actions hand files on: for the next task of the same run, not for the operator."""
    descriptor, path = tempfile.mkstemp(prefix='lmcache-fanout-', suffix='.json', dir=C.DEFAULT_LOCAL_TMP)
    with os.fdopen(descriptor, 'wb') as handle:
        handle.write((json.dumps(results, sort_keys=True) + '\n').encode())
    return path


def _excluded(names: t.List[str], every_host: t.Set[str]) -> t.Set[str]:
    """exclude_hosts, each an inventory host: a name that is none (a typo) would leave its host in, so it is refused."""
    unknown = [name for name in names if name not in every_host]
    if unknown:
        raise FanoutError('exclude_hosts names what is not a host of the inventory: %s'
                          % ', '.join(repr(name) for name in unknown[:5]))
    return set(names)


def _own_key(value: t.Any, where: str) -> t.Optional[str]:
    """An endpoint's own API key (None: the task's api_key applies); a key no header can carry is refused unshown."""
    if value is None or value == '':
        return None
    if not isinstance(value, str):
        raise FanoutError('%s must be a string (an API key); it is not shown' % where)
    problems = connection_problems({'api_key': value}, url_options=())
    if problems:
        raise FanoutError('%s: %s' % (where, '; '.join(problems)))
    return str(value)


def _unique_names(endpoints: t.List[Endpoint]) -> t.List[Endpoint]:
    """Results are keyed by name: a name given twice gets #2, #3..."""
    seen: t.Dict[str, int] = {}
    for endpoint in endpoints:
        seen[endpoint.name] = seen.get(endpoint.name, 0) + 1
        if seen[endpoint.name] > 1:
            endpoint.name = '%s#%d' % (endpoint.name, seen[endpoint.name])
    return endpoints


class _NotRun:
    """Why an endpoint is not run (found before any request); `failed` unless another endpoint runs its URL."""

    def __init__(self, problem: str, url: t.Optional[str] = None, failed: bool = True,
                 duplicate_of: t.Optional[str] = None) -> None:
        self.problem = problem
        self.url = url
        self.failed = failed
        # The endpoint that runs this one's URL, when that is why it is not run.
        self.duplicate_of = duplicate_of


def _duplicates_warning(duplicates: t.Dict[str, t.List[str]]) -> t.List[str]:
    if not duplicates:
        return []
    return ['%d endpoints share a URL with another and are not run (each URL is run once): %s' % (
        sum(len(copies) for copies in duplicates.values()),
        '; '.join('%s (the URL of %s, which runs it)' % (', '.join(copies), owner)
                  for owner, copies in sorted(duplicates.items())))]


def _run_in_batches(run_one: t.Callable[[str], t.Dict[str, t.Any]], order: t.List[str], sizes: t.List[int],
                    concurrency: int, max_fail_percentage: float
                    ) -> t.Tuple[t.Dict[str, t.Dict[str, t.Any]], int, t.Optional[str]]:
    """Run the endpoints batch after batch; stop when a batch fails more than max_fail_percentage. Returns every
    endpoint's outcome (the ones not reached are skipped), the number of batches run and why it stopped, if it did."""
    results: t.Dict[str, t.Dict[str, t.Any]] = {}
    stopped: t.Optional[str] = None
    batches_run = 0
    position = 0
    for number, size in enumerate(sizes, start=1):
        batch = order[position:position + size]
        position += size
        batches_run = number
        results.update(zip(batch, run_concurrently(run_one, batch, concurrency)))
        failed = [n for n in batch if results[n].get('failed')]
        if failed and 100.0 * len(failed) / len(batch) > max_fail_percentage:
            stopped = ('batch %d of %d: %d of %d endpoints failed (%.0f%%), more than max_fail_percentage %s'
                       % (number, len(sizes), len(failed), len(batch), 100.0 * len(failed) / len(batch),
                          plain_number(max_fail_percentage)))
            break
    for name in order[position:]:
        results[name] = dict(skipped=True, changed=False, msg='not run: the fan-out stopped after %s' % stopped)
    return results, batches_run, stopped


def _targets(endpoints: t.List[Endpoint], url_var: str) -> t.Dict[str, t.Any]:
    """Each endpoint's URL, or why it is not run: no URL, a bad one, or one a previous endpoint already has."""
    targets: t.Dict[str, t.Any] = {}
    owners: t.Dict[str, str] = {}
    for endpoint in endpoints:
        name, url = endpoint.name, endpoint.url
        if isinstance(url, _NotRun):
            targets[name] = url
        elif not isinstance(url, str):
            targets[name] = _NotRun('host %s: %s must be a URL string, got %r' % (name, url_var, url))
        elif url_problems(url_var, url):
            targets[name] = _NotRun('host %s: %s' % (name, '; '.join(url_problems(url_var, url))), redact_url(url))
        elif url.rstrip('/') in owners:
            targets[name] = _NotRun('not run: %s has the same URL as %s, which runs it' % (name, owners[url.rstrip('/')]),
                                    redact_url(url), failed=False, duplicate_of=owners[url.rstrip('/')])
        else:
            owners[url.rstrip('/')] = name
            targets[name] = url
    return targets


def _duplicates(targets: t.Dict[str, t.Any]) -> t.Dict[str, t.List[str]]:
    """The endpoints not run because another runs their URL, by the endpoint that runs it."""
    copies: t.Dict[str, t.List[str]] = {}
    for name, target in targets.items():
        if isinstance(target, _NotRun) and target.duplicate_of:
            copies.setdefault(target.duplicate_of, []).append(name)
    return copies
