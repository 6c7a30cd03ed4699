#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # cache and build are set by scripts/common.sh
# The whole test suite, from a fresh machine: ./tests/run.sh
# It bootstraps uv from PyPI, builds nox and antsibull-nox with it (tests/requirements/nox.lock) and runs every nox
# session of noxfile.py (nox -l lists them): antsibull-nox's extra-checks, license-check and docs-check, and the
# stages of tests/stages.sh (unit sanity lint docs galaxy fleet fleet-next targets integration molecule), in two lanes
# at once.
# Nox prints the time of each session at the end of each lane. Name sessions to run only those, one after another:
# ./tests/run.sh unit fleet
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
uv=$(ensure_uv)
nox_lock="$root/tests/requirements/nox.lock"
nox_venv=$(compiled_venv tools nox-py3.12 3.12 "$nox_lock")
rm -rf "$build/junit" && mkdir -p "$build/junit"

nox() {
  (cd "$root" && PATH="$(dirname "$uv"):$PATH" "$nox_venv/bin/nox" --no-color --reuse-venv yes "$@")
}
status=0
if [ $# -gt 0 ]; then
  nox --sessions "$@" || status=$?
else
  # Two lanes at once, on the machine's two cores, of about the same length: the ansible-test sessions, the
  # simulated fleet on 2.22, the docsite and galaxy-importer; and the sessions that run genuine servers (11 minutes of
  # integration) and the simulated fleet on 2.19. Each stage has its own layout (build/stages/STAGE) and its own ports;
  # ansible-test runs in one lane only, since its venvs are shared.
  lane_a=(extra-checks license-check docs-check unit sanity lint fleet-next targets docs galaxy)
  lane_b=(fleet integration molecule)
  log "nox sessions, two lanes at once: [${lane_a[*]}] and [${lane_b[*]}] (lane 2 prints when lane 1 is done; live: $build/lane-2.log)"
  nox --sessions "${lane_b[@]}" > "$build/lane-2.log" 2>&1 &
  lane_b_pid=$!
  nox --sessions "${lane_a[@]}" || status=$?
  wait "$lane_b_pid" || status=$?
  log "lane 2: ${lane_b[*]}"
  cat "$build/lane-2.log"
fi

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
