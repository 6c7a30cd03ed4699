# Shell helpers shared by tests/run.sh and scripts/demo.sh; source it after setting $root to the repository root.
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

# The tool venv for one ansible-core line, rebuilt when its requirements file changes.
tool_venv() {
  local line=$1 python_version=$2 requirements="$root/tests/requirements/ansible-$1.txt" digest venv
  digest=$(sha256sum "$requirements" | cut -c1-12)
  venv="$cache/tools/ansible-$line-py$python_version-$digest"
  if [ ! -f "$venv/.complete" ]; then
    log "building tool venv $venv" >&2
    rm -rf "$venv"
    "$(find_python "$python_version")" -m venv "$venv" >&2
    if ! "$venv/bin/pip" install -q -r "$requirements" > "$venv.log" 2>&1; then
      cat "$venv.log" >&2
      return 1
    fi
    touch "$venv/.complete"
  fi
  echo "$venv"
}

# ansible-test needs the collection at .../ansible_collections/lmcache/kvcache: lay one out from the work tree.
layout_collection() {
  rm -rf "$build/ansible_collections"
  mkdir -p "$collection"
  (cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$collection")
  # ansible-test reads the file list from git when there is a repository; give it one of just these files.
  (cd "$collection" && git init -q && git add -A)
}
