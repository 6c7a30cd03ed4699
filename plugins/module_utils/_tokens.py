# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Token sequences: the token file parser (checked in C-speed str methods) and the tokens' JSON text.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import json
import os
import typing as t


MAX_TOKENS = 1000000
# Token ids are vocabulary indices; engines hold them as 32-bit integers.
MAX_TOKEN_ID = 2 ** 31 - 1
# A token file larger than this is not a token file (1,000,000 ids as text are about 8 MB).
MAX_TOKEN_FILE_BYTES = 64 * 1024 * 1024


class TokenFileError(ValueError):
    pass


# A token file is checked with str methods, which run in C: whitespace becomes a comma, and with every digit seen as
# a 9, what is left must be nines and commas, no run of 11 nines, and each run of 10 at most MAX_TOKEN_ID.
_TO_COMMAS = dict((ord(c), ',') for c in ' \t\r\n\f\v')


_DIGITS_AS_NINES = dict((ord(c), '9') for c in '012345678')


def _token_list_problem(body: str) -> t.Optional[str]:
    """What is wrong with a comma-separated list of token ids, if anything."""
    shape = body.translate(_DIGITS_AS_NINES)
    if not body or shape.count('9') + shape.count(',') != len(shape) or ',,' in shape or '9' * 11 in shape:
        return 'expected integers from 0 to %d only' % MAX_TOKEN_ID
    framed, too_large, start = ',%s,' % shape, [], 0
    while True:
        start = framed.find(',%s,' % ('9' * 10), start)
        if start < 0:
            break
        if int(body[start:start + 10]) > MAX_TOKEN_ID:
            too_large.append(body[start:start + 10])
        start += 11
    if too_large:
        return 'token ids are vocabulary indices from 0 to %d; got %s' % (MAX_TOKEN_ID, ', '.join(too_large[:5]))
    return None


class TokenSequence:
    """Token ids read from a file, kept as their JSON text: a million of them cost 7 MB instead of 36 as Python
    integers, and the text is sent as it is. Validated with str methods, which run in C (_token_list_problem)."""

    def __init__(self, json_text: str) -> None:
        self.json_text = json_text
        self.count = json_text.count(',') + 1
        self._values: t.Optional[t.List[int]] = None

    @classmethod
    def parse(cls, text: str) -> 'TokenSequence':
        body = text.strip()
        if body.startswith('[') and body.endswith(']'):
            body = body[1:-1]
        body = body.replace(', ', ',').translate(_TO_COMMAS)
        while ',,' in body:
            body = body.replace(',,', ',')
        body = body.strip(',')
        problem = _token_list_problem(body)
        if problem:
            raise ValueError(problem)
        return cls('[%s]' % body)

    @property
    def values(self) -> t.List[int]:
        if self._values is None:
            self._values = json.loads(self.json_text)
        return self._values

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: t.Any) -> t.Any:
        return self.values[index]

    def __iter__(self) -> t.Iterator[int]:
        return iter(self.values)

    def prefix_json(self, count: int) -> str:
        """The first `count` tokens as a JSON list; the whole text when that is all of them."""
        return self.json_text if count >= self.count else json.dumps(self.values[:count], separators=(',', ':'))


def tokens_json(tokens: t.Union[t.List[int], TokenSequence], count: int) -> str:
    """The first `count` tokens as a JSON list."""
    if isinstance(tokens, TokenSequence):
        return tokens.prefix_json(count)
    return json.dumps(tokens[:count], separators=(',', ':'))


def read_token_file(path: str) -> TokenSequence:
    """Token ids from a file on the host running the task: a JSON list, or integers separated by spaces, commas or lines."""
    try:
        size = os.path.getsize(path)
        if size > MAX_TOKEN_FILE_BYTES:
            raise TokenFileError('token_ids_file %s is %d bytes, more than a token file can be (%d)' % (path, size, MAX_TOKEN_FILE_BYTES))
        with open(path, 'rb') as handle:
            text = handle.read().decode('utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenFileError('token_ids_file %s cannot be read: %s' % (path, getattr(exc, 'strerror', None) or exc))
    try:
        tokens = TokenSequence.parse(text)
    except ValueError as exc:
        raise TokenFileError('token_ids_file %s does not hold token ids (a JSON list of integers, or integers separated '
                             'by spaces, commas or lines): %s' % (path, str(exc)[:160]))
    # Named after the file, not after token_ids, which the task did not set.
    if len(tokens) > MAX_TOKENS:
        raise TokenFileError('token_ids_file %s has %d tokens; LMCache addresses at most %d' % (path, len(tokens), MAX_TOKENS))
    return tokens
