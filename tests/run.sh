#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # cache and build are set by scripts/common.sh
# The whole test suite, from a fresh machine: ./tests/run.sh
# It bootstraps uv from PyPI, builds nox and antsibull-nox with it (tests/requirements/nox.lock) and runs every nox
# session of noxfile.py (nox -l lists them): antsibull-nox's extra-checks, license-check and docs-check, and the
# stages of tests/stages.sh (unit sanity lint docs galaxy fleet fleet-next targets integration molecule), in three
# lanes at once.
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
  # Three lanes at once on the machine's two cores, each lane's sessions one after another: a third lane takes up the
  # CPU that the others leave while they wait on servers starting, and the last minutes are shared by two lanes, not
  # left to one. The ansible-test sessions share one lane (they share ansible-test's venvs and caches); the
  # integration session, the longest, has one of its own. Each stage has its own layout (build/stages/STAGE) and its
  # own ports.
  lanes=("extra-checks license-check docs-check unit sanity targets"
    "integration"
    "fleet fleet-next molecule lint docs galaxy")
  log "nox sessions, ${#lanes[@]} lanes at once: $(printf '[%s] ' "${lanes[@]}")(lanes 2 and 3 print when lane 1 is done; live: $build/lane-N.log)"
  pids=()
  for number in $(seq 2 ${#lanes[@]}); do
    # shellcheck disable=SC2086  # a lane is a list of session names
    nox --sessions ${lanes[number - 1]} > "$build/lane-$number.log" 2>&1 &
    pids+=($!)
  done
  # shellcheck disable=SC2086
  nox --sessions ${lanes[0]} || status=$?
  for number in $(seq 2 ${#lanes[@]}); do
    wait "${pids[number - 2]}" || status=$?
    log "lane $number: ${lanes[number - 1]}"
    cat "$build/lane-$number.log"
  done
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
