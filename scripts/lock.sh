#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # cache is set by scripts/common.sh
# Pin every venv this project builds: tests/requirements/*.txt -> *.lock, with uv pip compile, for the Python each
# venv runs on. Run it after changing a requirements file; commit the locks. ./scripts/lock.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
uv=$(ensure_uv)
requirements="$root/tests/requirements"
lock() {  # requirements file, Python version, more uv pip compile arguments
  local source=$1 python_version=$2
  shift 2
  compile_to "${source%.txt}.lock" "$source" "$python_version" "$@"
}
compile_to() {  # lock file, requirements file, Python version, more uv pip compile arguments
  local output=$1 source=$2 python_version=$3
  shift 3
  "$uv" pip compile -q --python-version "$python_version" --python-platform x86_64-manylinux_2_28 --no-header \
    --output-file "$output" "$source" "$@"
}
lock "$requirements/ansible-2.19.txt" 3.11
lock "$requirements/ansible-2.20.txt" 3.12
lock "$requirements/ansible-2.21.txt" 3.12
lock "$requirements/ansible-2.22.txt" 3.13
lock "$requirements/nox.txt" 3.12
# The venvs ansible-test runs in (--venv), one lock per Python they run on (tests/stages.sh: ansible_test_venv).
for python_version in 3.11 3.12 3.13; do
  for kind in units sanity; do
    compile_to "$requirements/ansible-test-$kind-py$python_version.lock" "$requirements/ansible-test-$kind.txt" "$python_version"
  done
done
for python_version in 3.11 3.13; do
  compile_to "$requirements/ansible-test-integration-py$python_version.lock" "$requirements/ansible-test-integration.txt" \
    "$python_version"
done
lock "$root/scripts/requirements/demo.txt" 3.11
lock "$root/benchmarks/requirements/requests.txt" 3.11
# The genuine LMCache releases: CPU torch from the wheel directory pip is pointed at (PIP_FIND_LINKS; this machine
# kind ships torch 2.13.0+cpu for Python 3.11 there), never a CUDA build from the index.
for source in "$root"/scripts/requirements/lmcache-*.txt; do
  lock "$source" 3.11 --find-links "$(lmcache_wheels)"
done
