# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# /// script
# dependencies = ["nox==2026.10.20", "antsibull-nox==1.10.0"]
# ///

"""The test suite as nox sessions (`nox -l` lists them); ./tests/run.sh runs them all, as the README says.

The ecosystem's own checks come from antsibull-nox (antsibull-nox.toml): extra-checks, license-check and
docs-check. The other stages are sessions of ours, one stage of tests/stages.sh each, because antsibull-nox runs
ansible-test in ansible-test's containers (no container engine on these machines), and installs test collections
and ansible-core branches from outside the package registries; see CONTRIBUTING.md.
"""

import nox

try:
    import antsibull_nox
except ImportError:
    print('antsibull-nox is needed next to nox: ./tests/run.sh installs both (tests/requirements/nox.lock)')
    raise

# antsibull-nox's sessions build their venvs with uv, as every venv of this project is built.
nox.options.default_venv_backend = 'uv'
nox.options.error_on_external_run = True

antsibull_nox.load_antsibull_nox_toml()

# The stages of tests/stages.sh, in the order ./tests/run.sh runs them, with what each checks.
STAGES = (
    ('unit', 'ansible-test units on ansible-core 2.19 (Python 3.11) and 2.22 (Python 3.13)'),
    ('sanity', 'ansible-test sanity on ansible-core 2.19 - 2.22, no ignore file; compile and import on Python 3.8 - 3.10'),
    ('lint', 'ansible-lint from the collection root, production profile, and the tree left clean'),
    ('docs', 'the docsite (antsibull-docs, Sphinx, warnings are errors) and antsibull-changelog lint'),
    ('galaxy', 'galaxy-importer on the built tarball, flake8 and Automation Hub checks on: no error, no warning'),
    ('fleet', 'fan-out, inventory, roles and the untrusted-data tests on a simulated fleet, ansible-core 2.19'),
    ('fleet-next', 'the fleet session on ansible-core 2.22 (Python 3.13)'),
    ('targets', 'ansible-test integration targets against genuine LMCache servers, ansible-core 2.19 and 2.22'),
    ('integration', 'pytest against genuine LMCache servers of four releases, TLS, keys and faults'),
    ('molecule', 'molecule test --all: the roles on a local fleet of genuine servers'),
)


def _stage_session(stage: str, description: str) -> None:
    def run(session: nox.Session) -> None:
        # The stage builds its own venvs (uv, from the locks) for each ansible-core line it runs on.
        session.run('bash', 'tests/stages.sh', stage, external=True)

    run.__doc__ = description
    nox.session(name=stage, python=False, default=True)(run)


for _stage, _description in STAGES:
    _stage_session(_stage, _description)
