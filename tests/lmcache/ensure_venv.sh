#!/usr/bin/env bash
# Build (once) and print the path of a venv holding a genuine LMCache release.
# Venvs live outside the repo, keyed by version, so repeated test runs reuse them.
# Usage: tests/lmcache/ensure_venv.sh 0.5.6
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
  extra=()
  case "$version" in
    # their `lmcache` CLI imports openai
    0.4.[3-9]*|0.5.[0-5]*) extra=(openai) ;;
  esac
  "$venv/bin/pip" install -q -c "$constraints" "lmcache==$version" "${extra[@]}"
} >&2
touch "$venv/.complete"
echo "$venv"
