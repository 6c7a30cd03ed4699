#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # build is set by scripts/common.sh
# Fleet-scale benchmarks, side by side in one run (see benchmarks/README.md): ./benchmarks/run.sh [--runs N] [--cases ABCDE]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
venv=$(tool_venv 2.19 3.11)
# Case P installs requests beside the tool venv with uv, from benchmarks/requirements/requests.lock.
UV=$(ensure_uv)
export UV
layout_collection
exec "$venv/bin/python" "$root/benchmarks/run.py" --collections "$build" "$@"
