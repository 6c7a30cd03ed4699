# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import itertools

import pytest

from ansible_collections.lmcache.kvcache.plugins.module_utils._chunks import prefix_operations
from ansible_collections.lmcache.kvcache.plugins.module_utils._target import ChunkRange, Target
from ansible_collections.lmcache.kvcache.plugins.module_utils._tokens import TokenFileError, read_token_file


def coordinator_after(counts, operations):
    """What the LMCache coordinator does: prefix pins add one, unpins take one off, never below zero."""
    counts = list(counts)
    for operation, length in operations:
        for index in range(length):
            counts[index] = counts[index] + 1 if operation == 'pin' else max(0, counts[index] - 1)
    return counts


@pytest.mark.parametrize('length', [1, 2, 3, 4])
def test_prefix_plan_reaches_every_goal_from_every_start(length):
    for current in itertools.product(range(3), repeat=length):
        for desired in itertools.product(range(3), repeat=length):
            plan = prefix_operations(current, desired)
            assert coordinator_after(current, plan) == list(desired), (current, desired, plan)


def test_range_pin_is_pin_to_end_then_unpin_before_start():
    assert prefix_operations([0, 0, 0, 0], [0, 0, 1, 1]) == [('pin', 4), ('unpin', 2)]


def test_nothing_to_do_is_no_request():
    assert prefix_operations([1, 0, 2], [1, 0, 2]) == []


def test_unpinning_a_double_pin_takes_two_steps():
    assert prefix_operations([2, 2], [0, 0]) == [('unpin', 2), ('unpin', 2)]


@pytest.mark.parametrize('start, end, first, last', [
    (None, None, 0, None), (0, 512, 0, 1), (300, 700, 1, 2), (256, 257, 1, 1), (512, None, 2, None),
])
def test_chunk_range(start, end, first, last):
    chunks = ChunkRange.of(start, end)
    assert (chunks.first, chunks.last) == (first, last)
    assert first in chunks and (last is None or last + 1 not in chunks) and (first == 0 or first - 1 not in chunks)


def problems(**overrides):
    base = dict(request_id=None, token_ids=[1] * 600, model_name='m', world_size=1, cache_salt='', start=None, end=None)
    base.update(overrides)
    return '; '.join(Target(**base).problems())


@pytest.mark.parametrize('overrides, problem', [
    (dict(token_ids=None, request_id=''), 'request_id must be 1 to 256 printable characters without spaces'),
    (dict(token_ids=None, request_id='a b'), 'request_id must be 1 to 256 printable characters without spaces'),
    (dict(token_ids=None, request_id='x' * 257), 'request_id must be 1 to 256 printable characters without spaces'),
    (dict(token_ids=None, request_id='naïve'), 'request_id must be 1 to 256 printable characters without spaces'),
    (dict(token_ids=[]), 'token_ids must not be empty'),
    (dict(token_ids=[1, -5]), 'token_ids must be vocabulary indices from 0 to 2147483647; got -5'),
    (dict(token_ids=[1, 2 ** 40]), 'token_ids must be vocabulary indices from 0 to 2147483647; got 1099511627776'),
    (dict(token_ids=[0] * 1000001), 'token_ids has 1000001 tokens; LMCache addresses at most 1000000'),
    (dict(world_size=0), 'world_size must be from 1 to 4096, got 0'),
    (dict(world_size=10 ** 6), 'world_size must be from 1 to 4096, got 1000000'),
    (dict(cache_salt='tenant/a'), "cache_salt must not contain '/'"),
    (dict(model_name=' '), 'model_name must not be empty'),
    (dict(start=-1), 'start must be 0 or more, got -1'),
    (dict(end=0), 'end must be 1 or more, got 0'),
    (dict(start=10, end=10), 'start must be less than end, got start=10 end=10'),
    (dict(end=601), 'end=601 is past the end of token_ids (600 tokens)'),
    (dict(start=600), 'start=600 is past the end of token_ids (600 tokens)'),
])
def test_target_problems(overrides, problem):
    assert problem in problems(**overrides)


def test_good_targets_have_no_problems():
    assert problems() == ''
    assert problems(token_ids=None, request_id='req-abc-123', start=0, end=512) == ''
    assert problems(start=0, end=600, cache_salt='tenant-a', world_size=8) == ''


@pytest.mark.parametrize('text', ['[1, 2, 3]', '1 2 3', '1,2,3\n', '1\n2\n3\n'])
def test_token_files_in_each_accepted_form(tmp_path, text):
    path = tmp_path / 'tokens'
    path.write_text(text)
    tokens = read_token_file(str(path))
    assert list(tokens) == [1, 2, 3] and len(tokens) == 3 and tokens.prefix_json(3) == '[1,2,3]'
    assert tokens.prefix_json(2) == '[1,2]'


@pytest.mark.parametrize('text, problem', [
    ('[1, "x"]', 'does not hold token ids'),
    ('1 2 three', 'does not hold token ids'),
    ('{"a": 1}', 'does not hold token ids'),
    ('[1, -2]', 'expected integers from 0 to 2147483647 only'),
    ('[1, 2.5]', 'expected integers from 0 to 2147483647 only'),
    ('[1, true]', 'expected integers from 0 to 2147483647 only'),
    ('[1, 2147483648]', 'token ids are vocabulary indices from 0 to 2147483647; got 2147483648'),
    ('[1, 99999999999]', 'expected integers from 0 to 2147483647 only'),
    ('', 'expected integers'),
])
def test_token_files_that_hold_something_else_are_refused(tmp_path, text, problem):
    path = tmp_path / 'tokens'
    path.write_text(text)
    with pytest.raises(TokenFileError, match=problem):
        read_token_file(str(path))


def test_a_token_file_of_more_than_a_million_tokens_is_refused_by_its_name(tmp_path):
    path = tmp_path / 'huge'
    path.write_text(' '.join(['7'] * 1000001))
    with pytest.raises(TokenFileError, match='token_ids_file .*/huge has 1000001 tokens; LMCache addresses at most 1000000'):
        read_token_file(str(path))
    path.write_text(' '.join(['7'] * 1000000))
    assert len(read_token_file(str(path))) == 1000000


def test_a_missing_token_file_is_named(tmp_path):
    with pytest.raises(TokenFileError, match='token_ids_file .*/nope cannot be read: No such file or directory'):
        read_token_file(str(tmp_path / 'nope'))
