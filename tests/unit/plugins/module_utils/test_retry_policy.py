# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The retry policy as a table: what the client does after one attempt, for reads and writes, with no server.

test_client.py checks that the loop applies it against a scripted server; this table is the policy itself, one row per
case the security guide names (docs/docsite/rst/security.rst, "Retries, deadlines and sizes").
"""

from __future__ import annotations

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import (
    ANSWER,
    FAIL,
    FOLLOW,
    RETRY,
    UNKNOWN,
    Reply,
    _Lost,
    _NotSent,
    next_step,
)

REFUSED_BEHIND_GATEWAY = b'{"detail": "upstream answered 404 Not Found"}'


def reply(status, body=b''):
    return Reply('GET', 'http://node:8080/x', status, 'Reason', {}, body)


def lost(sent):
    return _Lost('the server closed the connection without answering', None, sent)


def not_sent(cause=None):
    return _NotSent('cannot connect', cause or ConnectionRefusedError(111, 'Connection refused'))


def tls_refused():
    import ssl
    return _NotSent('TLS error', ssl.SSLError('tlsv13 alert certificate required'))


# (what happened, write?, attempt, step) with 3 attempts in all.
TABLE = [
    # Answers
    (reply(200), False, 1, ANSWER),
    (reply(204), True, 1, ANSWER),
    (reply(404), False, 1, FAIL),
    (reply(400), True, 1, FAIL),
    (reply(401), False, 1, FAIL),
    (reply(500), False, 1, FAIL),
    (reply(500), True, 1, FAIL),
    # Redirects: followed for reads only
    (reply(307), False, 1, FOLLOW),
    (reply(307), True, 1, FAIL),
    # Reads retry 429/502/503/504 until the last attempt
    (reply(429), False, 1, RETRY),
    (reply(502), False, 2, RETRY),
    (reply(503), False, 1, RETRY),
    (reply(504), False, 1, RETRY),
    (reply(503), False, 3, FAIL),
    # A gateway's 502 showing the server behind it refused: never retried
    (reply(502, REFUSED_BEHIND_GATEWAY), False, 1, FAIL),
    (reply(502, REFUSED_BEHIND_GATEWAY), True, 1, FAIL),
    # Writes retry only what was refused before it was carried out
    (reply(429), True, 1, RETRY),
    (reply(503), True, 2, RETRY),
    (reply(503), True, 3, FAIL),
    (reply(502), True, 1, UNKNOWN),
    (reply(504), True, 1, UNKNOWN),
    # No answer: a request never sent is retried; a write lost after it was sent is unknown
    (not_sent(), False, 1, RETRY),
    (not_sent(), True, 1, RETRY),
    (not_sent(), True, 3, FAIL),
    (lost(sent=False), True, 1, RETRY),
    (lost(sent=True), False, 1, RETRY),
    (lost(sent=True), False, 3, FAIL),
    (lost(sent=True), True, 1, UNKNOWN),
    # A TLS refusal will not go away by retrying
    (tls_refused(), False, 1, FAIL),
    (tls_refused(), True, 1, FAIL),
]


@pytest.mark.parametrize('happened, write, attempt, step', TABLE)
def test_the_step_after_an_attempt(happened, write, attempt, step):
    if isinstance(happened, Reply):
        assert next_step(write, attempt, 3, reply=happened) == step
    else:
        assert next_step(write, attempt, 3, failure=happened) == step


def test_an_accepted_status_is_an_answer_not_an_error():
    assert next_step(False, 1, 3, frozenset((404,)), reply=reply(404)) == ANSWER
    assert next_step(True, 1, 3, frozenset((409,)), reply=reply(409)) == ANSWER


def test_with_no_retries_the_first_retriable_failure_is_final():
    assert next_step(False, 1, 1, reply=reply(503)) == FAIL
    assert next_step(False, 1, 1, failure=not_sent()) == FAIL
