#!/usr/bin/env bash
# Build (once) and print the path of a venv holding a genuine LMCache release.
# Venvs live outside the repo, keyed by version, so repeated test runs reuse them.
# Usage: scripts/ensure_venv.sh 0.5.6
#
# 0.5.7rc3 is published only as the pure-Python wheel lmcache-cli==0.5.7rc3.dev0, without LMCache's compiled parts.
# It runs on those of 0.5.6: install lmcache 0.5.6, replace its Python code by 0.5.7rc3's (keeping the .so files),
# leave out the one accelerator kv-format spec that names an enum value 0.5.6's native code lacks, and install the
# wheel's own requirements.
set -euo pipefail
version="${1:?usage: ensure_venv.sh LMCACHE_VERSION}"
cache_root="${LMCACHE_KVCACHE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmcache-kvcache}/venvs"
venv="$cache_root/lmcache-$version"
python="${LMCACHE_PYTHON:-python3.11}"
torch_pin="torch==2.13.0"   # the CPU wheel on this machine's disk; never let pip pull a CUDA build

if [ -f "$venv/.complete" ]; then
  echo "$venv"
  exit 0
fi

mkdir -p "$cache_root"
rm -rf "$venv"
"$python" -m venv "$venv"
constraints="$venv/constraints.txt"
echo "$torch_pin" > "$constraints"
{
  "$venv/bin/pip" install -q "$torch_pin"
  case "$version" in
    0.5.7rc3)
      "$venv/bin/pip" install -q -c "$constraints" lmcache==0.5.6
      wheels="$venv/wheels"
      "$venv/bin/pip" download -q --no-deps -d "$wheels" lmcache-cli==0.5.7rc3.dev0
      "$venv/bin/python" - "$wheels"/lmcache_cli-*.whl <<'PY'
import os, shutil, sys, sysconfig, zipfile
site = sysconfig.get_paths()['purelib']
package = os.path.join(site, 'lmcache')
native = {}
for folder, _dirs, files in os.walk(package):
    for name in files:
        if name.endswith('.so'):
            path = os.path.join(folder, name)
            with open(path, 'rb') as handle:
                native[os.path.relpath(path, site)] = handle.read()
shutil.rmtree(package)
with zipfile.ZipFile(sys.argv[1]) as wheel:
    for member in wheel.namelist():
        if member.startswith('lmcache/'):
            wheel.extract(member, site)
for relative, data in native.items():
    os.makedirs(os.path.dirname(os.path.join(site, relative)), exist_ok=True)
    with open(os.path.join(site, relative), 'wb') as handle:
        handle.write(data)
os.remove(os.path.join(package, 'v1', 'gpu_connector', 'kv_format', 'specs', 'nl_x_nb_two_nh_one_bs_hs.py'))
PY
      "$venv/bin/pip" install -q -c "$constraints" matplotlib openai 'prometheus_client<=0.24.1,>=0.18.0' sortedcontainers
      ;;
    0.4.[3-9]*|0.5.[0-5]*)
      # their `lmcache` CLI imports openai
      "$venv/bin/pip" install -q -c "$constraints" "lmcache==$version" openai ;;
    *)
      "$venv/bin/pip" install -q -c "$constraints" "lmcache==$version" ;;
  esac
} >&2
touch "$venv/.complete"
echo "$venv"
