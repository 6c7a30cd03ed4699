# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The top of every lmcache.kvcache module: AnsibleModule around the run skeleton (_runner.py).

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import redact_url
from ansible_collections.lmcache.kvcache.plugins.module_utils._runner import (
    Context,
    Operation,
    argument_spec,
    execute,
    prepare,
    refused,
)


def run(operation: t.Type[Operation], for_request: t.Optional[t.Type[Operation]] = None) -> None:
    """Build the module from the operation's options, check them before any request, run, exit.

    for_request: the operation to run instead when a request is targeted (same options), e.g. a targeted clear.
    """
    spec, kwargs = argument_spec(operation, for_request)
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True, **kwargs)
    prepared = prepare(operation, module.params, for_request)
    # Masked everywhere in the output, the invocation included, whatever happens next.
    module.no_log_values.update(prepared.hidden)
    if prepared.problems:
        module.fail_json(**refused(prepared.problems, redact_url(module.params['url'] or '')))
    ctx = Context(module.params, check_mode=module.check_mode, diff=module._diff, warn=module.warn)
    result = execute(prepared.operation(module.params, ctx, prepared.request))
    if result.get('failed'):
        module.fail_json(**result)
    module.exit_json(**result)
