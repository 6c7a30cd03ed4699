# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import typing as t

import pytest

from ansible_collections.lmcache.kvcache.tests.unit.fake_server import FakeServer


@pytest.fixture
def fake_server() -> t.Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> t.List[float]:
    """Record backoff delays instead of sleeping them."""
    delays: t.List[float] = []
    monkeypatch.setattr('time.sleep', delays.append)
    return delays


@pytest.fixture
def run_module(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> t.Callable[..., t.Dict[str, t.Any]]:
    """Run a module's main() in-process with the given arguments; returns its JSON result."""
    from ansible.module_utils import _internal
    from ansible.module_utils.common import warnings
    from ansible.module_utils.testing import patch_module_args

    # A module runs in a process of its own: its warnings are its result's, from none before it. In one test process,
    # ansible-core keeps every warning in a global, and once a test has imported controller code (ansible.errors, a
    # filter) it sends them to the controller's display instead.
    monkeypatch.setattr(_internal, 'is_controller', False)
    monkeypatch.setattr(warnings, '_global_warnings', {})
    monkeypatch.setattr(warnings, '_global_deprecations', {})

    def run(module: t.Any, args: t.Dict[str, t.Any], check_mode: bool = False, diff: bool = False) -> t.Dict[str, t.Any]:
        args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
        with patch_module_args(args), pytest.raises(SystemExit):
            module.main()
        result = json.loads(capsys.readouterr().out)
        # What the controller takes out of a module's answer before anyone sees it (ansible-core 2.22 sends the
        # secrets a module found, such as a key from the environment, as _ansible_new_secrets, to be masked).
        result = dict((key, value) for key, value in result.items() if not key.startswith('_ansible_'))
        # ansible-core 2.19+ returns warnings as structured events; the tests read their text.
        result['warnings'] = [w['event']['msg'] if isinstance(w, dict) else w for w in result.get('warnings', [])]
        return result
    return run


@pytest.fixture
def sim() -> t.Iterator[t.Any]:
    """A simulated fleet (tests/sim): two 0.5.6 nodes holding 4 L1 objects each, and a coordinator."""
    from ansible_collections.lmcache.kvcache.tests.sim.server import SimFleet
    fleet = SimFleet(nodes=2, objects=4).start()
    yield fleet
    fleet.stop()
