#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # cache, build and collection are set by scripts/common.sh
# The main job, on a fresh machine: ./scripts/demo.sh
# Starts a local fleet of genuine LMCache servers (two 0.5.6, one 0.5.0, one 0.4.4: three API generations; and a
# 0.5.7rc3 that requires an API key, which the inventory holds for it) and a genuine LMCache 0.5.6 engine as vLLM
# embeds it (LMCache's standalone starter, with its internal API server), fills them with real KV data (LMCache's own
# bench client; the engine's own POST /cache/store), runs playbooks/maintenance_window.yml against it, shows the
# report, and stops them. Pass ansible-playbook options through, e.g. --check --diff.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"

started=$SECONDS
# The controller of the demo: ansible-core and matplotlib only (the test suite's tool venvs hold far more).
demo_lock="$root/scripts/requirements/demo.lock"
venv=$(compiled_venv tools demo-py3.11 3.11 "$demo_lock")
layout_collection
work=$(mktemp -d "${TMPDIR:-/tmp}/lmcache-demo.XXXXXX")
state="$work/fleet.json"
inventory="$work/inventory.yml"
stop_fleet() {
  "$venv/bin/python" "$root/scripts/fleet.py" down --state "$state" || true
  rm -rf "$work"
}
trap stop_fleet EXIT

log "starting a local LMCache fleet (genuine servers, CPU-only, loopback, telemetry off)"
"$venv/bin/python" "$root/scripts/fleet.py" up --state "$state" --inventory "$inventory" --fill 2 \
  --api-key gpu-e gpu-a=0.5.6 gpu-b=0.5.6 gpu-c=0.5.0 gpu-d=0.4.4 gpu-e=0.5.7rc3 vllm-f=0.5.6:engine

reports="$build/demo-reports"
rm -rf "$reports"
log "running the maintenance window: ansible-playbook -i $inventory playbooks/maintenance_window.yml $*"
ANSIBLE_COLLECTIONS_PATH="$build" ANSIBLE_LOCALHOST_WARNING=false "$venv/bin/ansible-playbook" \
  -i "$inventory" "$root/playbooks/maintenance_window.yml" -e lmcache_report_dir="$reports" "$@"

if [ -f "$reports/after/lmcache-fleet-report.md" ]; then
  log "fleet report after the window ($reports/after: .json, .md, .png)"
  cat "$reports/after/lmcache-fleet-report.md"
else
  # Check mode writes no report: the window's summary above says what it would clear and free.
  log "no fleet report: in check mode the window writes none (its summary above says what a real run would do)"
fi

log "done in $((SECONDS - started)) s; stopping the fleet"
