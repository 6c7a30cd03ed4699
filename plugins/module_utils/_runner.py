# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The one run skeleton of every operation: check options, read, plan, apply (or predict in check mode), re-read,
and report `changed`, `msg`, `diff` and the fields every result carries.

An operation (one per module) is an argument spec plus read / plan / apply / report. The skeleton owns the rest,
the same way for a module on a GPU host and for each endpoint of the controller-side fan-out. Nothing here knows
AnsibleModule: _module.py wraps it for modules, the fan-out action plugin for many endpoints at once.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.lmcache.kvcache.plugins.module_utils._generations import ENGINE, Discovery, DiscoveryCache
from ansible_collections.lmcache.kvcache.plugins.module_utils._server import KindChanged, LMCacheServer
from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    Deadline,
    LMCacheClient,
    LMCacheError,
    OutcomeUnknown,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._compat import no_log_values
from ansible_collections.lmcache.kvcache.plugins.module_utils._connection import (
    CONNECTION_ARGUMENT_SPEC,
    CONNECTION_REQUIRED_BY,
    Connector,
    api_key_secrets,
    connection_problems,
    url_secrets,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._models import Rejected
from ansible_collections.lmcache.kvcache.plugins.module_utils._pod import summary, worker_urls
from ansible_collections.lmcache.kvcache.plugins.module_utils._proxy import Proxies
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import (
    TARGET_ARGUMENT_SPEC,
    TARGET_MUTUALLY_EXCLUSIVE,
    TARGET_REQUIRED_BY,
    TARGET_REQUIRED_ONE_OF,
    Target,
)
from ansible_collections.lmcache.kvcache.plugins.module_utils._tokens import TokenFileError
from ansible_collections.lmcache.kvcache.plugins.module_utils._vouching import URL_UNVOUCHED, Networks

# How many times a write whose outcome was lost is reconciled (re-read, re-planned, the rest applied).
MAX_RECONCILE_ROUNDS = 3


class Context:
    """What a run needs besides its own options: check and diff mode, warnings, and clients sharing one deadline."""

    def __init__(self, params: t.Mapping[str, t.Any], check_mode: bool = False, diff: bool = False,
                 warn: t.Callable[[str], None] = lambda message: None, deadline: t.Optional[Deadline] = None,
                 discoveries: t.Optional[DiscoveryCache] = None, proxies: t.Optional[Proxies] = None) -> None:
        self.params = params
        self.discoveries = discoveries
        self.check_mode = check_mode
        self.diff = diff
        self.warn = warn
        self.connector = Connector(params, warn, deadline, proxies)
        self.clients: t.List[LMCacheClient] = []
        self.node = self.node_for(params['url'], None if params.get('url_vouched', True) else URL_UNVOUCHED)
        self._coordinator: t.Optional[LMCacheClient] = None

    def client(self, url: str, key_withheld: t.Optional[str] = None) -> LMCacheClient:
        client = self.connector.client(url, key_withheld=key_withheld)
        self.clients.append(client)
        return client

    def node_for(self, url: str, key_withheld: t.Optional[str] = None) -> LMCacheServer:
        """The node at `url`; `key_withheld`: why the task's API key is not sent to it (its address is not vouched for)."""
        return LMCacheServer(self.client(url, key_withheld), self.discoveries)

    @property
    def coordinator(self) -> t.Optional[LMCacheClient]:
        if self._coordinator is None and self.params.get('coordinator_url'):
            self._coordinator = self.client(self.params['coordinator_url'])
        return self._coordinator

    @property
    def last_status(self) -> t.Optional[int]:
        """The HTTP status of this run's last request (None: it got no answer)."""
        return self.connector.last_status

    def close(self) -> None:
        for client in self.clients:
            client.close()


class Plan:
    """What an operation would change: `changes` (empty: nothing), the state it would leave (`after`), and `goal`,
    which a re-plan after a lost answer aims for again."""

    def __init__(self, changes: t.Sequence[t.Any] = (), after: t.Any = None, goal: t.Any = None) -> None:
        self.changes = list(changes)
        self.after = after
        self.goal = goal


class Operation:
    """One task against one LMCache endpoint. Subclasses set the class attributes and implement read, plan, apply
    (writing operations only), report and message."""

    # The module's own options (merged with the connection options, and the target options when `target` is set).
    argument_spec: t.Dict[str, t.Dict[str, t.Any]] = {}
    # None: instance-wide; 'optional' or 'required': takes the per-request target options.
    target: t.Optional[str] = None
    mutually_exclusive: t.List[t.Sequence[str]] = []
    required_if: t.List[t.Sequence[t.Any]] = []
    # The option that says whether a rejected operation fails the task; None: the operation is never rejected.
    rejection_option: t.Optional[str] = None
    # Whether, given the scheduler of a vLLM pod, it runs on each of the pod's workers (_pod.py).
    per_worker = False
    # Whether routes_read names what read() sends first (and the operation is on a node, not a coordinator).
    reads_known = False

    def __init__(self, params: t.Mapping[str, t.Any], ctx: Context, request: t.Optional[Target]) -> None:
        self.params = params
        self.ctx = ctx
        self.node = ctx.node
        self.request = request

    @classmethod
    def option_problems(cls, params: t.Mapping[str, t.Any], request: t.Optional[Target]) -> t.List[str]:
        """What the argument spec cannot check; found before any request is sent."""
        return []

    def read(self) -> t.Any:
        raise NotImplementedError

    def routes_read(self, discovery: Discovery) -> t.List[str]:
        """The GET paths read() sends after the discovery on a node of `discovery`, as often as it sends them (a
        healthy node's), for an operation whose `reads_known`. Sent at once, they cost one round trip."""
        return []

    def plan(self, before: t.Any) -> Plan:
        return Plan(after=before)

    def replan(self, current: t.Any, plan: Plan) -> Plan:
        """After a write whose answer was lost: what is still to do to reach the plan's goal from `current`."""
        return self.plan(current)

    def apply(self, plan: Plan) -> None:
        raise NotImplementedError('%s changes nothing' % type(self).__name__)

    def read_after(self, plan: Plan, before: t.Any) -> t.Any:
        return self.read()

    def report(self, before: t.Any, after: t.Any, plan: Plan) -> t.Dict[str, t.Any]:
        return {}

    def message(self, before: t.Any, after: t.Any, plan: t.Optional[Plan]) -> str:
        return ''

    def diff(self, before: t.Any, after: t.Any) -> t.Optional[t.Dict[str, t.Any]]:
        return None

    def changed_after(self, before: t.Any, after: t.Any, plan: Plan) -> bool:
        """Whether the run changed the server; by default, whether the plan had anything to do."""
        return bool(plan.changes)

    def changed(self, before: t.Any, current: t.Any) -> bool:
        """Whether the server's state moved from `before` (used when a run fails half-way)."""
        return self.plan(current).changes != self.plan(before).changes

    def rejected_report(self, reason: str) -> t.Dict[str, t.Any]:
        return {}

    @classmethod
    def totals(cls, results: t.Sequence[t.Mapping[str, t.Any]]) -> t.Optional[t.Dict[str, t.Any]]:
        """Sums over many endpoints' results (the fan-out's summary carries them, whatever results it shows); None:
        the operation has none."""
        return None

    def after_problem(self, after: t.Any) -> t.Optional[str]:
        """Why the state the run left (not in check mode) fails the task although every request succeeded; None: it
        does not."""
        return None

    def facts(self) -> t.Dict[str, t.Any]:
        """The fields every result carries; never sends a request."""
        return dict(url=self.node.url, api_generation=self.node.known_generation_name, version=self.node.known_version,
                    status=self.ctx.last_status)


def argument_spec(operation: t.Type[Operation], for_request: t.Optional[t.Type[Operation]] = None
                  ) -> t.Tuple[t.Dict[str, t.Any], t.Dict[str, t.Any]]:
    """(argument spec, AnsibleModule keyword arguments) of an operation, and of the one that runs instead when a
    request is targeted (one module takes both's options)."""
    spec = dict(CONNECTION_ARGUMENT_SPEC)
    required_by = dict(CONNECTION_REQUIRED_BY)
    kwargs: t.Dict[str, t.Any] = dict(mutually_exclusive=list(operation.mutually_exclusive),
                                      required_if=list(operation.required_if))
    if operation.target:
        spec.update(TARGET_ARGUMENT_SPEC)
        required_by.update(TARGET_REQUIRED_BY)
        kwargs['mutually_exclusive'] = TARGET_MUTUALLY_EXCLUSIVE + kwargs['mutually_exclusive']
        if operation.target == 'required':
            kwargs['required_one_of'] = list(TARGET_REQUIRED_ONE_OF)
    spec.update(operation.argument_spec)
    if for_request is not None:
        spec.update(for_request.argument_spec)
    kwargs['required_by'] = required_by
    return spec, kwargs


def secrets(params: t.Mapping[str, t.Any]) -> t.List[str]:
    """Every value to mask in output: the key as given and as sent, credentials in a URL."""
    values = api_key_secrets(params.get('api_key'))
    for option in ('url', 'coordinator_url'):
        values += url_secrets(params.get(option))
    return values


def check(operation: t.Type[Operation], params: t.Mapping[str, t.Any], for_request: t.Optional[t.Type[Operation]] = None,
          url_options: t.Sequence[str] = ('url', 'coordinator_url')
          ) -> t.Tuple[t.Type[Operation], t.Optional[Target], t.List[str]]:
    """The operation to run (for_request instead when a request is targeted), the request target, and every problem
    with the options, before any request is sent."""
    problems = connection_problems(params, url_options=url_options) + Networks.problems(params.get('networks'))
    request = None
    if operation.target:
        try:
            request = Target.from_params(params)
        except TokenFileError as exc:
            problems.append(str(exc))
        if request is not None:
            problems += request.problems()
    problems += operation.option_problems(params, request)
    if request is not None and for_request is not None:
        operation = for_request
        problems += operation.option_problems(params, request)
    return operation, request, problems


class Prepared:
    """Raw task arguments made ready to run, the same way for every driver (a module process, a module in the worker,
    each endpoint of the fan-out, a lookup): the validated parameters, the operation to run and its request target,
    every problem found before any request, and every value to mask in output (computed here, once)."""

    def __init__(self, params: t.Dict[str, t.Any], operation: t.Type[Operation], request: t.Optional[Target],
                 problems: t.List[str], hidden: t.Set[str], invalid: bool = False) -> None:
        self.params = params
        self.operation = operation
        self.request = request
        self.problems = problems
        self.hidden = hidden
        # Whether the arguments themselves did not validate (then params is what could be read of them).
        self.invalid = invalid


def prepare(operation: t.Type[Operation], params: t.Dict[str, t.Any], for_request: t.Optional[t.Type[Operation]] = None,
            no_log_values: t.Iterable[str] = (), url_options: t.Sequence[str] = ('url', 'coordinator_url')) -> Prepared:
    """Validated parameters (from AnsibleModule, or prepare_args) made ready to run: see Prepared."""
    operation, request, problems = check(operation, params, for_request, url_options)
    return Prepared(params, operation, request, problems, set(no_log_values) | set(secrets(params)))


def prepare_args(operation: t.Type[Operation], args: t.Mapping[str, t.Any],
                 for_request: t.Optional[t.Type[Operation]] = None,
                 url_options: t.Sequence[str] = ('url', 'coordinator_url')) -> Prepared:
    """Raw task arguments validated against the operation's argument spec, as AnsibleModule would, then prepare()d:
    the drivers that run in the controller's own process."""
    spec, kwargs = argument_spec(operation, for_request)
    validated = ArgumentSpecValidator(spec, **kwargs).validate(dict(args))
    hidden = no_log_values(validated)
    if validated.error_messages:
        return Prepared(validated.validated_parameters, operation, None, list(validated.error_messages), hidden, invalid=True)
    return prepare(operation, validated.validated_parameters, for_request, hidden, url_options)


def refused(problems: t.Sequence[str], url: t.Optional[str]) -> t.Dict[str, t.Any]:
    """The result of options refused before any request: every common result field, none of them read."""
    return dict(failed=True, changed=False, msg='; '.join(problems), status=None, url=url, api_generation=None, version=None)


def failure(op: Operation, message: str, status: t.Optional[int] = None, **extra: t.Any) -> t.Dict[str, t.Any]:
    result = op.facts()
    if status is not None:
        result['status'] = status
    result.update(extra, msg=message, failed=True)
    result.setdefault('changed', False)
    return result


def execute(op: Operation) -> t.Dict[str, t.Any]:
    """Run one operation to its result (a failure is a result with failed=true, never an exception)."""
    try:
        try:
            return _run(op)
        except KindChanged:
            # The node was taken for another kind from the fan-out's cache, and nothing was done: once more, on its own.
            return _run(op)
    finally:
        op.ctx.close()


def _reads(op: Operation, discovery: Discovery) -> t.List[str]:
    """What op reads first on a node of `discovery`: the engine's /meta, when it may be a pod's scheduler, then the
    reads of op.read()."""
    return (['/meta'] if op.per_worker and discovery.generation.kind == ENGINE else []) + op.routes_read(discovery)


def _run(op: Operation) -> t.Dict[str, t.Any]:
    before: t.Any = None
    applying = False
    try:
        node = op.node
        # Where op knows its first reads, they go out at once: with the node's /version on a fleet of one release
        # (its guess), else after the discovery.
        with node.client.pipelined(node.reads_ahead(lambda discovery: _reads(op, discovery)) if op.reads_known else []):
            if op.reads_known:
                node.client.send_at_once(_reads(op, node.discovery))
            workers = worker_urls(node) if op.per_worker else []
            if workers:
                return _on_workers(op, workers)
            before = op.read()
        plan = op.plan(before)
        if plan.changes and not op.ctx.check_mode:
            applying = True
            plan = _apply(op, plan)
            after = op.read_after(plan, before)
        else:
            after = plan.after
        report = op.report(before, after, plan)
        message = op.message(before, after, plan)
        # Facts last: the report and the message may have read more of the server (its version).
        result = op.facts()
        result.update(report, changed=op.changed_after(before, after, plan), msg=message)
        problem = None if op.ctx.check_mode else op.after_problem(after)
        if problem:
            result.update(failed=True, msg='%s %s' % (problem, message))
        if op.ctx.diff:
            diff = op.diff(before, after)
            if diff is not None:
                result['diff'] = diff
        return result
    except Rejected as rejection:
        result = op.facts()
        result.update(changed=False, rejected=True, reason=rejection.reason, msg='REJECTED: %s' % rejection.reason)
        result.update(op.rejected_report(rejection.reason))
        if op.rejection_option and op.params.get(op.rejection_option):
            result['failed'] = True
        else:
            op.ctx.warn(result['msg'])
        return result
    except LMCacheError as exc:
        extra: t.Dict[str, t.Any] = {}
        message = str(exc)
        if applying:
            # Part of the change may have happened: say whether the server's state moved, from a fresh read.
            try:
                extra['changed'] = op.changed(before, op.read())
            except LMCacheError as again:
                extra['changed'] = True
                message += '; the state could not be read back to see what changed (%s)' % again
        return failure(op, message, getattr(exc, 'status', None), **extra)


def _on_workers(op: Operation, workers: t.List[str]) -> t.Dict[str, t.Any]:
    """The operation on each worker of the pod whose scheduler op's url is, one after another, with the task's options,
    deadline and proxies; one result for the pod (_pod.summary)."""
    results: t.Dict[str, t.Dict[str, t.Any]] = {}
    for url in workers:
        params = dict(op.params, url=url)
        ctx = Context(params, check_mode=op.ctx.check_mode, diff=op.ctx.diff, warn=op.ctx.warn,
                      deadline=op.ctx.connector.deadline, discoveries=op.ctx.discoveries, proxies=op.ctx.connector.proxies)
        results[ctx.node.url] = execute(type(op)(params, ctx, op.request))
    return summary(op.node.url, results)


def _apply(op: Operation, plan: Plan) -> Plan:
    """Apply the plan; when a write's answer is lost, re-read and apply what is still missing (never blindly resend)."""
    rounds = 0
    while True:
        try:
            op.apply(plan)
            return plan
        except OutcomeUnknown as lost:
            rounds += 1
            current = op.read()
            remaining = op.replan(current, plan)
            if not remaining.changes:
                op.ctx.warn('%s; a fresh read shows it was carried out' % lost)
                return plan
            if rounds >= MAX_RECONCILE_ROUNDS:
                raise LMCacheError('%s; after %d attempts to reconcile, the server still differs from what was asked'
                                   % (lost, rounds))
            op.ctx.warn('%s; a fresh read shows it was not (fully) carried out: applying the rest' % lost)
            plan = Plan(remaining.changes, plan.after, plan.goal)
