#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Build (once) and print the path of a venv holding a genuine LMCache release, CPU-only, with uv from its lock
# (scripts/requirements/lmcache-VERSION.lock). Venvs live outside the repo, keyed by version and lock, so repeated
# runs reuse them; every venv links the same CPU torch from uv's cache.
# Usage: scripts/ensure_venv.sh 0.5.6
#
# 0.5.7rc3 is published only as the pure-Python wheel lmcache-cli==0.5.7rc3.dev0, without LMCache's compiled parts.
# It runs on those of 0.5.6: install lmcache 0.5.6, replace its Python code by 0.5.7rc3's (keeping the .so files),
# leave out the one accelerator kv-format spec that names an enum value 0.5.6's native code lacks, and install the
# wheel's own requirements.
set -euo pipefail
version="${1:?usage: ensure_venv.sh LMCACHE_VERSION}"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
lock="$root/scripts/requirements/lmcache-$version.lock"
[ -f "$lock" ] || { echo "no lock for LMCache $version: $lock" >&2; exit 2; }
venv=$(locked_venv_path venvs "lmcache-$version" "$lock")

if [ -f "$venv/.complete" ]; then
  echo "$venv"
  exit 0
fi
mkdir -p "$cache/venvs"
# Held while the venv is built and, for 0.5.7rc3, laid over: a second run waits, then finds it done.
exec 8> "$venv.ensure-lock"
flock 8
uv_venv "$venv" 3.11 "$lock" --find-links "$(lmcache_wheels)"
if [ "$version" = 0.5.7rc3 ] && [ ! -f "$venv/.laid-over" ]; then
  # Not complete until the 0.5.7rc3 code is laid over 0.5.6: an interrupted run is rebuilt next time.
  rm "$venv/.complete"
  wheels="$venv/wheels"
  "$venv/bin/pip" download -q --no-deps -d "$wheels" lmcache-cli==0.5.7rc3.dev0 >&2
  "$venv/bin/python" - "$wheels"/lmcache_cli-*.whl <<'PY'
import os, sys, sysconfig, zipfile
site = sysconfig.get_paths()['purelib']
package = os.path.join(site, 'lmcache')
# Keep 0.5.6's compiled parts where they are (linked from uv's cache, never written to); unlink everything else.
for folder, _dirs, files in os.walk(package, topdown=False):
    for name in files:
        if not name.endswith('.so'):
            os.remove(os.path.join(folder, name))
    if not os.listdir(folder):
        os.rmdir(folder)
# Every file written here is a new one: uv's cache is untouched.
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for member in wheel.namelist():
        if member.startswith('lmcache/') and not member.endswith('.so'):
            wheel.extract(member, site)
os.remove(os.path.join(package, 'v1', 'gpu_connector', 'kv_format', 'specs', 'nl_x_nb_two_nh_one_bs_hs.py'))
PY
  touch "$venv/.laid-over" "$venv/.complete"
fi
echo "$venv"
