# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Genuine LMCache servers, and ansible / ansible-playbook runs against them, for the integration tests."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.lmcache.kvcache.scripts.fleet import Fleet, Node, http_json
from ansible_collections.lmcache.kvcache.tests.helpers.ansible_run import Ansible


@pytest.fixture(scope='session')
def fleet(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Fleet]:
    """One genuine server per API generation: 0.5.6 (G3), 0.5.0 (G2), 0.4.4 (G1, via the test-only launcher)."""
    servers = Fleet(str(tmp_path_factory.mktemp('fleet')))
    servers.add('g3', '0.5.6')
    servers.add('g2', '0.5.0')
    servers.add('g1', '0.4.4')
    with servers:
        yield servers


def filled(node: Node, sequences: int = 2) -> Node:
    """`node` holding exactly 2 objects per bench sequence, stored by LMCache's own bench client."""
    node.fill(sequences)
    assert node.l1_objects() == 2 * sequences
    return node


def emptied(node: Node) -> Node:
    """`node` with an empty L1, cleared without the collection."""
    clear = {'0.5.6': '/cache/clear', '0.5.0': '/clear-cache'}.get(node.version, '/api/clear-cache')
    assert http_json('POST', node.url + clear)[0] == 200
    assert node.l1_objects() == 0
    return node


@pytest.fixture
def ansible(tmp_path: t.Any) -> Ansible:
    return Ansible(str(tmp_path))
