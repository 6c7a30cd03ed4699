# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Reading values out of a server's JSON answers: a value, or an error that names the field, the URL and what came.

Every value read from a server goes through these readers: a value that is missing where it is needed, of the wrong
type, or out of range is an error, never a silent 0. What counts as a count or a number is _untrusted's rule.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import typing as t

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError, Reply
from ansible_collections.lmcache.kvcache.plugins.module_utils._untrusted import Untrusted, count, json_type, number, shown


MISSING = object()


def field(body: t.Any, path: str) -> t.Any:
    """body['a']['b'] for path 'a.b'; MISSING where a level is absent."""
    if '.' not in path:
        return body[path] if isinstance(body, dict) and path in body else MISSING
    value = body
    for part in path.split('.'):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def unreadable(reply: Reply, path: str, value: t.Any, expected: str) -> LMCacheError:
    described = 'missing' if value is MISSING else '%s (%s)' % (shown(value), json_type(value))
    return LMCacheError('%s %s: cannot read %s from the answer: %s, expected %s'
                        % (reply.method, reply.url, path, described, expected))


def read_count(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.Optional[int]:
    """A whole number of 0 or more (a JSON integer, or a number with no fraction). `name` is shown in errors."""
    value = field(body, path)
    if optional and (value is MISSING or value is None):
        return None
    try:
        return count(None if value is MISSING else value, name or path)
    except Untrusted:
        raise unreadable(reply, name or path, value, 'a whole number of 0 or more')


def read_number(reply: Reply, body: t.Any, path: str, optional: bool = False, low: float = 0.0,
                high: t.Optional[float] = None, name: t.Optional[str] = None) -> t.Optional[float]:
    """A finite number from `low` to `high` (both included)."""
    value = field(body, path)
    if optional and (value is MISSING or value is None):
        return None
    try:
        found = number(None if value is MISSING else value, name or path)
    except Untrusted:
        found = None
    if found is None or found < low or (high is not None and found > high):
        raise unreadable(reply, name or path, value, 'a number from %s%s' % (low, ' to %s' % high if high is not None else ''))
    return found


def read_string(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.Optional[str]:
    value = field(body, path)
    if optional and (value is MISSING or value is None):
        return None
    if not isinstance(value, str):
        raise unreadable(reply, name or path, value, 'a string')
    return value


def read_list(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.List[t.Any]:
    value = field(body, path)
    if optional and (value is MISSING or value is None):
        return []
    if not isinstance(value, list):
        raise unreadable(reply, name or path, value, 'a list')
    return value


def read_object(reply: Reply, body: t.Any, path: str, optional: bool = False, name: t.Optional[str] = None) -> t.Dict[str, t.Any]:
    value = field(body, path)
    if optional and (value is MISSING or value is None):
        return {}
    if not isinstance(value, dict):
        raise unreadable(reply, name or path, value, 'an object')
    return value
