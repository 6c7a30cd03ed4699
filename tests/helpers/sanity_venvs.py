# -*- coding: utf-8 -*-
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build ansible-test's sanity venvs with uv before ansible-test would build them with pip.

`ansible-test sanity --venv` makes one venv per sanity test that has requirements (pylint, validate-modules, ...), per
Python and per ansible-core line, with pip: from empty caches that was most of the suite's time (13 of 23 minutes,
four ansible-core lines). It takes a venv it finds finished (a `marker.txt` in it) at the path it would use,
~/.ansible/test/venv/sanity.NAME/PYTHON/HASH, the hash of the pip commands it would run. This script, run with the
Python of an ansible-core line's tool venv, asks that ansible-test for the same commands and hash, and builds each
missing venv with uv from the same pinned requirement files. Where ansible-test's internals differ from what this
reads, it stops and ansible-test builds its venvs as before: a missed cache, never a wrong venv.

Usage: python sanity_venvs.py UV PYTHON_VERSION PYTHON_PATH
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile


def main() -> int:
    uv, version, python = sys.argv[1:4]
    try:
        from ansible_test._internal.commands.sanity import hash_pip_commands
        from ansible_test._internal.host_configs import NativePythonConfig, VirtualPythonConfig
        from ansible_test._internal.python_requirements import PipInstall, collect_requirements
        from ansible_test._internal.util import ANSIBLE_TEST_DATA_ROOT
        from ansible_test._internal.util_common import yamlcheck
    except ImportError as exc:
        print('sanity venvs: left to ansible-test (%s)' % exc)
        return 0
    requirements = os.path.join(ANSIBLE_TEST_DATA_ROOT, 'requirements')
    names = sorted(name[len('sanity.'):-len('.txt')] for name in os.listdir(requirements)
                   if name.startswith('sanity.') and name.endswith('.txt'))
    config = NativePythonConfig(version=version, path=python)
    built = []
    for name in names:
        commands = collect_requirements(python=config, controller=True, command=None, ansible=False, coverage=False,
                                        minimize=False, sanity=name)
        installs = [command for command in commands if isinstance(command, PipInstall)]
        if not installs or any(command.packages or command.constraints for command in installs):
            continue
        path = os.path.join(os.path.expanduser('~/.ansible/test/venv'), 'sanity.%s' % name, version,
                            hash_pip_commands(commands))
        if os.path.exists(os.path.join(path, 'marker.txt')):
            continue
        shutil.rmtree(path, ignore_errors=True)
        with tempfile.TemporaryDirectory() as scratch:
            files = []
            for number, (_source, content) in enumerate(requirement for command in installs for requirement in command.requirements):
                files += ['-r', os.path.join(scratch, '%d.txt' % number)]
                with open(files[-1], 'w') as handle:
                    handle.write(content)
            try:
                subprocess.run([uv, 'venv', '-q', '--python', python, path], check=True)
                # Compiled as pip compiles them: else a package's SyntaxWarnings (docutils on 3.12) reach a test's stderr.
                subprocess.run([uv, 'pip', 'install', '-q', '--compile-bytecode', '--python', os.path.join(path, 'bin', 'python')]
                               + files, check=True)
            except subprocess.CalledProcessError as exc:
                shutil.rmtree(path, ignore_errors=True)
                print('sanity venv %s: left to ansible-test (%s)' % (name, exc))
                continue
        # What ansible-test writes beside a venv it made: the commands, and whether PyYAML has its C loader there.
        with open(os.path.join(path, 'meta.install.json'), 'w') as handle:
            handle.write(json.dumps([command.serialize() for command in commands], indent=4))
        has_yaml = any(command.has_package('pyyaml') for command in installs)
        with open(os.path.join(path, 'meta.yaml.json'), 'w') as handle:
            json.dump(yamlcheck(VirtualPythonConfig(version=version, path=os.path.join(path, 'bin', 'python')))
                      if has_yaml else None, handle)
        open(os.path.join(path, 'marker.txt'), 'w').close()
        built.append(name)
    print('sanity venvs for Python %s built with uv: %s' % (version, ', '.join(built) or 'none missing'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
