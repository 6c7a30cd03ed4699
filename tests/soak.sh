#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # build is set by scripts/common.sh
# The soak (not part of ./tests/run.sh): 10,000 operations against a simulated fleet with about 5% injected faults,
# each result checked against the server's true state. ./tests/soak.sh [--operations N] [--fault-rate R] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
venv=$(tool_venv 2.19 3.11)
layout_collection
cd "$collection"
PYTHONPATH="$build" exec "$venv/bin/python" -m ansible_collections.lmcache.kvcache.tests.soak.soak "$@"
