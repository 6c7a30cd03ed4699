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
# Nox prints the time of each session. Name sessions to run only those, one after another:
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
  # Two lanes at once, on the machine's two cores. Lane 1 runs the ansible-test sessions, which share ansible-test's
  # venvs and caches and so never run two at once, and lane 2 starts on the longest session; then each lane takes
  # the next session of the shared queue when it is free, so that the lanes end together whether the caches are warm
  # or empty (ansible-test's sanity venvs alone take minutes to build from empty ones). Each stage has its own layout
  # (build/stages/STAGE) and its own ports. A third lane was measured slower: two cores share out less CPU to three.
  fixed=(extra-checks license-check docs-check unit sanity targets)
  shared=(integration fleet fleet-next molecule galaxy lint docs)
  queue="$build/session-queue"
  printf '%s\n' "${shared[@]}" > "$queue"
  next_session() {  # the first session of the queue, removed from it; nothing when it is empty
    (
      flock 9
      head -n 1 "$queue"
      sed -i 1d "$queue"
    ) 9> "$queue.lock"
  }
  lane() {  # sessions to run first, then sessions from the queue until it is empty
    local session lane_status=0
    [ $# = 0 ] || nox --sessions "$@" || lane_status=$?
    while session=$(next_session) && [ -n "$session" ]; do
      nox --sessions "$session" || lane_status=$?
    done
    return "$lane_status"
  }
  log "nox sessions, two lanes at once: [${fixed[*]}] in lane 1, then both take from [${shared[*]}]" \
    "(lane 2 prints when lane 1 is done; live: $build/lane-2.log)"
  lane > "$build/lane-2.log" 2>&1 &
  lane_2_pid=$!
  lane "${fixed[@]}" || status=$?
  wait "$lane_2_pid" || status=$?
  log "lane 2"
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
