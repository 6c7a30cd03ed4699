# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# Shell helpers shared by tests/run.sh, tests/stages.sh and scripts/demo.sh; source it after setting $root to the repository root.
# shellcheck shell=bash

cache=${LMCACHE_KVCACHE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lmcache-kvcache}
build="${root:?set root to the repository root before sourcing common.sh}/build"
collection="$build/ansible_collections/lmcache/kvcache"

log() { printf '\n=== %s\n' "$*"; }

# A Python interpreter of version $1 (e.g. 3.12): from PATH, else from pyenv.
find_python() {
  local version=$1 candidate
  for candidate in "python$version" "$(pyenv prefix "$version" 2>/dev/null)/bin/python$version"; do
    if "$candidate" -c 'import sys' >/dev/null 2>&1; then
      command -v "$candidate"
      return
    fi
  done
  echo "Python $version not found (install it, or make pyenv provide it)" >&2
  return 1
}

# uv builds every venv (it links packages from one cache: the second venv of a set costs little disk and seconds).
# Bootstrapped from PyPI into a venv of its own, at a pinned version, so a fresh machine needs nothing by hand.
uv_version=0.13.9
# uv's cache as this user's uv finds it, fixed, so that a process run with another HOME still shares it.
uv_cache_dir() { echo "${UV_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/uv}"; }

ensure_uv() {
  local home="$cache/uv-$uv_version"
  if [ ! -x "$home/bin/uv" ]; then
    log "bootstrapping uv $uv_version from PyPI" >&2
    rm -rf "$home"
    "$(find_python 3.11)" -m venv "$home" >&2
    "$home/bin/pip" install -q "uv==$uv_version" >&2
  fi
  echo "$home/bin/uv"
}

# The directory holding the CPU build of torch: the one pip is pointed at on this kind of machine (PIP_FIND_LINKS).
lmcache_wheels() {
  local links=${PIP_FIND_LINKS:-/opt/wheels}
  echo "${links%% *}"
}

# A venv at $1 for Python $2 holding what the lock file $3 pins (and $4...: more uv pip install arguments), built once:
# rebuilt only when it is missing or did not finish. Callers put the lock's digest in the path.
uv_venv() {
  local venv=$1 python_version=$2 lock=$3 uv
  shift 3
  [ -f "$venv/.complete" ] && return 0
  uv=$(ensure_uv)
  mkdir -p "$(dirname "$venv")"
  # One builder at a time per venv (two runs on one machine share the cache): the second waits, then finds it built.
  (
    flock 9
    [ -f "$venv/.complete" ] && exit 0
    log "building venv $venv ($(basename "$lock"))" >&2
    rm -rf "$venv"
    "$uv" venv -q --seed --python "$(find_python "$python_version")" "$venv" >&2
    if ! "$uv" pip install -q --python "$venv/bin/python" -r "$lock" "$@" > "$venv.log" 2>&1; then
      cat "$venv.log" >&2
      exit 1
    fi
    touch "$venv/.complete"
  ) 9> "$venv.lock"
}

# Where the venv of a lock file lives: $cache/KIND/NAME-DIGEST, the digest of the lock and of how it is installed
# ($4...), so that a changed lock or way of building makes a new venv.
locked_venv_path() {
  local kind=$1 name=$2 lock=$3
  shift 3
  echo "$cache/$kind/$name-$({ cat "$lock"; [ $# = 0 ] || echo "$*"; } | sha256sum | cut -c1-12)"
}

# A venv the controller's Python runs from (the tools, nox, the demo, ansible-test's), built once and its path
# printed. Its bytecode is compiled when it is built: uv leaves that to the first import, and a machine that sets
# PYTHONDONTWRITEBYTECODE (this kind does) would compile ansible-core, pytest and matplotlib from source at every
# start. (LMCache's venvs are left out: their servers run with an environment of their own, which writes it.)
compiled_venv() {  # kind, name, Python version, lock
  local venv
  venv=$(locked_venv_path "$1" "$2" "$4" --compile-bytecode)
  uv_venv "$venv" "$3" "$4" --compile-bytecode || return 1
  echo "$venv"
}

# The tool venv for one ansible-core line, from its lock file (tests/requirements/ansible-LINE.lock, made from
# ansible-LINE.txt by scripts/lock.sh), rebuilt when the lock changes.
tool_venv() {
  compiled_venv tools "ansible-$1-py$2" "$2" "$root/tests/requirements/ansible-$1.lock"
}

# ansible-test needs the collection at .../ansible_collections/lmcache/kvcache: lay one out from the work tree.
layout_collection() {
  rm -rf "$build/ansible_collections"
  mkdir -p "$collection"
  # Tracked files deleted in the work tree are left out, so a tree in the middle of a rename lays out too.
  (cd "$root" && git ls-files -co --exclude-standard -z | while IFS= read -r -d '' file; do
    if [ -e "$file" ]; then printf '%s\0' "$file"; fi; done | xargs -0 cp --parents -t "$collection")
  # ansible-test reads the file list from git when there is a repository; give it one of just these files.
  (cd "$collection" && git init -q && git add -A)
}
