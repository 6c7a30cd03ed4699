# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The trust rule (docs/docsite/rst/security.rst) in code: what the fleet sends is attacker input.

Anything that reaches a coordinator can register a node, and every node writes its own texts. So a value from a
coordinator or a node is checked field by field into a plain Python value here before it becomes a host name, a
URL, a path segment or part of a file; a value that fails is an `Untrusted` error that names the field.

Private to this collection: the API may change without notice.
"""

from __future__ import annotations

import ipaddress
import math
import re
import typing as t
from urllib.parse import quote

from ansible_collections.lmcache.kvcache.plugins.module_utils._client import LMCacheError

# Ansible's own serialisers give keys of this prefix a meaning (a tagged, possibly trusted, value on the way back).
RESERVED_KEY_PREFIX = '__ansible'
# A host name that no host pattern reads as more than itself: no ':', ',', '!', '&', '*', '?', '~', '[', ']', spaces.
HOST_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.@-]{0,252}$')
# Names Ansible itself gives a meaning in host patterns and templates.
RESERVED_HOST_NAMES = frozenset(('all', 'ungrouped', 'localhost', '127.0.0.1', '::1'))
DNS_NAME = re.compile(r'^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$')
# Bounds on registered metadata: deeper or larger is not metadata, and costs every template that reads it.
MAX_DEPTH = 8
MAX_ITEMS = 1000
MAX_TEXT = 4096


class Untrusted(LMCacheError):
    """A value that this collection will not use; the text names the field (and so the option or the server)."""


def host_name(value: t.Any, field: str, groups: t.Collection[str] = ()) -> str:
    """A registered id as an inventory host name: a plain name that no pattern or template reads as a group."""
    if not isinstance(value, str):
        raise Untrusted('%s is %s, expected a string' % (field, _kind(value)))
    if not HOST_NAME.match(value):
        raise Untrusted('%s %s is not a plain host name (letters, digits, ".", "_", "-", "@"; 1 to 253 characters, '
                        'starting with a letter or digit)' % (field, shown(value)))
    if value.lower() in RESERVED_HOST_NAMES or value in groups:
        raise Untrusted('%s %s is a name Ansible reads as a group or as the controller, not as one host'
                        % (field, shown(value)))
    return value


def address(value: t.Any, field: str) -> str:
    """An IP address or a DNS name, nothing that could carry a path, a user or a second host into a URL."""
    if not isinstance(value, str):
        raise Untrusted('%s is %s, expected an IP address or a host name' % (field, _kind(value)))
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        pass
    if DNS_NAME.match(value):
        return value
    raise Untrusted('%s %s is neither an IP address nor a host name' % (field, shown(value)))


def port(value: t.Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise Untrusted('%s is %s, expected a port number from 1 to 65535' % (field, _kind(value)))
    return value


def node_url(scheme: str, raw_address: t.Any, raw_port: t.Any, field: str) -> str:
    """The base URL of a node from what a coordinator registered for it (its ip and http_port, checked)."""
    host = address(raw_address, field + '.ip')
    return '%s://%s:%d' % (scheme, '[%s]' % host if ':' in host else host, port(raw_port, field + '.http_port'))


def count(value: t.Any, field: str, optional: bool = False) -> t.Optional[int]:
    """A whole number of 0 or more (None where optional and absent)."""
    if type(value) is int and value >= 0:  # pylint: disable=unidiomatic-typecheck  # the common case, first (not a bool)
        return value
    if value is None and optional:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Untrusted('%s is %s, expected a whole number of 0 or more' % (field, _kind(value)))
    return value


def number(value: t.Any, field: str, optional: bool = False) -> t.Optional[float]:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
        raise Untrusted('%s is %s, expected a number' % (field, _kind(value)))
    return float(value)


def plain_json(value: t.Any, field: str, depth: int = 0) -> t.Any:
    """A JSON value as plain dicts, lists, strings, numbers, booleans and None, with string keys and none that
    Ansible's serialisers read as a type marker; bounded in depth and size."""
    if depth > MAX_DEPTH:
        raise Untrusted('%s is nested more than %d levels deep' % (field, MAX_DEPTH))
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return number(value, field) if isinstance(value, float) else int(value)
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise Untrusted('%s is a string of %d characters, more than %d' % (field, len(value), MAX_TEXT))
        return str(value)
    if isinstance(value, list):
        if len(value) > MAX_ITEMS:
            raise Untrusted('%s has %d items, more than %d' % (field, len(value), MAX_ITEMS))
        return [plain_json(item, '%s[%d]' % (field, index), depth + 1) for index, item in enumerate(value)]
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise Untrusted('%s has %d keys, more than %d' % (field, len(value), MAX_ITEMS))
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Untrusted('%s has a key that is not a string' % field)
            if key.startswith(RESERVED_KEY_PREFIX):
                raise Untrusted('%s has the key %s, which Ansible reserves for its own type markers'
                                % (field, shown(key)))
            result[str(key)] = plain_json(item, '%s.%s' % (field, key), depth + 1)
        return result
    raise Untrusted('%s is %s, not a JSON value' % (field, _kind(value)))


def path_segment(value: t.Any, field: str) -> str:
    """One path segment of a URL, percent-encoded. '', '.' and '..' are refused: a normalising proxy resolves them
    to another route (PUT /quota/.. is PUT /)."""
    text = value if isinstance(value, str) else str(value)
    if text in ('', '.', '..'):
        raise Untrusted('%s %s cannot be a path segment of a URL (a proxy resolves it to another route)'
                        % (field, shown(text)))
    return quote(text, safe='')


def shown(value: t.Any, limit: int = 60) -> str:
    """A value for a message: its repr, cut to `limit` characters, so that no server text runs on in the output."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def json_type(value: t.Any) -> str:
    """What kind of JSON value this is, for a message: 'null', 'a boolean', 'a number', 'a string', 'a list', ..."""
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'a boolean'
    if isinstance(value, (int, float)):
        return 'a number'
    if isinstance(value, str):
        return 'a string'
    if isinstance(value, list):
        return 'a list'
    if isinstance(value, dict):
        return 'an object'
    return type(value).__name__


def _kind(value: t.Any) -> str:
    """json_type, with the value itself where it is a scalar: 'a boolean (True)', "a string ('8080')"."""
    if value is None or isinstance(value, (list, dict)) or not isinstance(value, (bool, int, float, str)):
        return json_type(value)
    return '%s (%s)' % (json_type(value), shown(value))


# The words of a configuration key that make its value a secret, whatever it holds (an API key, a token, a password, a
# credential): whole words of the key (min_retrieve_tokens counts tokens; auth_token is one).
SECRET_WORDS = frozenset(('key', 'apikey', 'token', 'secret', 'password', 'passwd', 'pwd', 'credential', 'credentials',
                          'auth', 'authorization', 'cookie', 'signature', 'private'))
# Not secrets although a word matches: where the keys are, not the keys (0.5.7 lists its key files' paths).
NOT_SECRET_KEYS = frozenset(('api_key_files', 'key_format'))
MASKED = '********'


def _secret_key(key: str) -> bool:
    words = re.split(r'[^a-z0-9]+', re.sub(r'([a-z0-9])([A-Z])', r'\1_\2', key).lower())
    return key.lower() not in NOT_SECRET_KEYS and any(word in SECRET_WORDS for word in words)


_URL_CREDENTIALS = re.compile(r'([a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#@\s]*@')


def masked_config(value: t.Any, key: str = '') -> t.Any:
    """A node's or an engine's configuration with every value that may hold a secret masked: the value of a key named
    like one (key, token, secret, password, credential, auth), and the user:password of any URL in a string, at any
    depth (the same rule as every other output of this collection: a secret is never shown)."""
    if isinstance(value, dict):
        return dict((k, masked_config(v, str(k))) for k, v in value.items())
    if isinstance(value, list):
        return [masked_config(item, key) for item in value]
    if value is not None and value != '' and _secret_key(key):
        return MASKED
    if isinstance(value, str):
        return _URL_CREDENTIALS.sub(lambda m: m.group(1) + '***@', value)
    return value
