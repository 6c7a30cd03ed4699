#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # cache and build are set by scripts/common.sh
# The whole test suite, from a fresh machine: ./tests/run.sh
# It bootstraps uv from PyPI, builds nox and antsibull-nox with it (tests/requirements/nox.lock) and runs every nox
# session of noxfile.py (nox -l lists them): antsibull-nox's extra-checks, license-check and docs-check, then the
# stages of tests/stages.sh (unit sanity lint docs galaxy fleet targets integration molecule). Nox prints the time of
# each session at the end. Name sessions to run only those: ./tests/run.sh unit fleet
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
uv=$(ensure_uv)
nox_lock="$root/tests/requirements/nox.lock"
nox_venv="$cache/tools/nox-py3.12-$(sha256sum "$nox_lock" | cut -c1-12)"
uv_venv "$nox_venv" 3.12 "$nox_lock"
rm -rf "$build/junit" && mkdir -p "$build/junit"

sessions=()
[ $# -eq 0 ] || sessions=(--sessions "$@")
# nox runs antsibull-nox's sessions in venvs it builds with uv: put this uv first on PATH.
status=0
(cd "$root" && PATH="$(dirname "$uv"):$PATH" "$nox_venv/bin/nox" --no-color --reuse-venv yes ${sessions[@]+"${sessions[@]}"}) ||
  status=$?

# One closing line over every pytest run above (sanity reports by itself; nox's table says which session failed).
python3 - "$build/junit" <<'PY'
import glob
import sys
import xml.etree.ElementTree as ET

counts = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
for path in glob.glob(sys.argv[1] + '/*.xml'):
    for suite in ET.parse(path).getroot().iter('testsuite'):
        for key in counts:
            counts[key] += int(suite.get(key, 0))
failed = counts['failures'] + counts['errors']
print('pytest: %d passed, %d failed, %d skipped' % (counts['tests'] - failed - counts['skipped'], failed, counts['skipped']))
PY
exit "$status"
