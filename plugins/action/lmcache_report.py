# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lmcache_report: write a fleet report (JSON, Markdown, PNG) on the controller, in this process (the chart in one of its own).

Writing the files with copy/template/command tasks costs a Python process per task; for a 1,000-host report that is
most of the report's time. See plugins/modules/lmcache_report.py for the documentation.
"""

from __future__ import annotations

import contextlib
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase

from ansible_collections.lmcache.kvcache.plugins.plugin_utils._chart import ChartProcess
from ansible_collections.lmcache.kvcache.plugins.plugin_utils._report import (
    build_report,
    exceptions_only,
    read_report,
    read_results,
    report_files,
    write_files,
)

SPEC = dict(
    results=dict(type='dict'),
    results_file=dict(type='path'),
    dest=dict(type='path', required=True),
    usage_warn=dict(type='float', default=0.7),
    hit_ratio_warn=dict(type='float', default=0.1),
    previous=dict(type='path'),
    chart=dict(type='bool', default=True),
    details=dict(type='str', default='all', choices=['all', 'exceptions']),
    expected_config=dict(type='dict'),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp: t.Any = None, task_vars: t.Optional[t.Dict[str, t.Any]] = None) -> t.Dict[str, t.Any]:
        result = super().run(tmp, task_vars)
        validated = ArgumentSpecValidator(SPEC, mutually_exclusive=[('results', 'results_file')],
                                          required_one_of=[('results', 'results_file')]).validate(dict(self._task.args))
        if validated.error_messages:
            result.update(failed=True, msg='lmcache_report: %s' % '; '.join(validated.error_messages))
            return result
        params = validated.validated_parameters
        problems = ['%s must be greater than 0 and at most 1, got %s' % (name, params[name])
                    for name in ('usage_warn', 'hit_ratio_warn') if not 0 < params[name] <= 1]
        if problems:
            result.update(failed=True, msg='lmcache_report: %s' % '; '.join(problems))
            return result
        # The chart's process imports matplotlib while the results are read and the report built.
        with ChartProcess() if params['chart'] else contextlib.nullcontext() as drawer:
            return self._write(params, result, drawer)

    def _write(self, params: t.Dict[str, t.Any], result: t.Dict[str, t.Any],
               drawer: t.Optional[ChartProcess]) -> t.Dict[str, t.Any]:
        problems: t.List[str] = []
        previous, results = None, params['results']
        try:
            previous = read_report(params['previous']) if params['previous'] else None
        except ValueError as exc:
            problems.append('previous: %s' % exc)
        try:
            # A large fleet's results come in a file (lmcache_fanout's details_file), not through Ansible's variables.
            results = read_results(params['results_file']) if params['results_file'] and not problems else results
        except ValueError as exc:
            problems.append('results_file: %s' % exc)
        if problems:
            result.update(failed=True, msg='lmcache_report: %s' % '; '.join(problems))
            return result
        warnings = []
        if params['previous'] and previous is None:
            warnings.append('lmcache_report: no report at %s yet: no hits over an interval in this one' % params['previous'])
        report = build_report(results, params['usage_warn'], params['hit_ratio_warn'], previous, params['expected_config'])
        files, note = report_files(report, drawer)
        try:
            changed = write_files(params['dest'], files, bool(self._play_context.check_mode))
        except OSError as exc:
            result.update(failed=True, msg='lmcache_report: cannot write the report to %s: %s'
                          % (params['dest'], exc.strerror or exc))
            return result
        result.update(changed=bool(changed), report=exceptions_only(report) if params['details'] == 'exceptions' else report,
                      files=sorted(files), files_changed=changed,
                      msg='%s: %d hosts, %d healthy, %d outliers%s.' % (
                          params['dest'], report['host_count'], report['healthy_count'],
                          len(report['outliers']), '; no chart: %s' % note if note else ''))
        if note:
            warnings.append('lmcache_report: no chart: %s' % note)
        if warnings:
            result['warnings'] = warnings
        return result
