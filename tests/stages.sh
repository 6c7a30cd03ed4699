#!/usr/bin/env bash
# Copyright (c) 2026, lmcache.kvcache contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck disable=SC2154  # cache, build and collection are set by scripts/common.sh
# One stage of the test suite: tests/stages.sh STAGE. Each is a nox session (noxfile.py; nox -l lists them), and
# ./tests/run.sh runs them all:
#   unit         ansible-test units, on ansible-core 2.19 (Python 3.11) and 2.22 (Python 3.13); the tests of the
#                compatibility shims also on 2.20 and 2.21
#   sanity       ansible-test sanity (no ignore entries) on ansible-core 2.19, 2.20, 2.21 and 2.22; compile and import
#                of the modules on the target Pythons 3.8 - 3.10
#   lint         ansible-lint from the collection root, as a user runs it (.config/ansible-lint.yml: production
#                profile), and the tree left clean after it
#   docs         the docsite built with antsibull-docs and Sphinx, warnings are errors (but the offline-only ones);
#                antsibull-changelog lint (antsibull-docs lint-collection-docs is antsibull-nox's docs-check session)
#   galaxy       the built tarball through galaxy-importer, as Galaxy imports it (ansible-doc, ansible-lint, flake8,
#                the Automation Hub tag and changelog checks; offline, no containers): no error, no warning
#   fleet        pytest: the fan-out, the coordinator inventory, ansible-runner, the roles and the adversarial tests of
#                the fleet's untrusted data against a simulated fleet with injected faults (ansible-core 2.19, Python 3.11)
#   fleet-next   the same on ansible-core 2.22 (Python 3.13)
#   targets      ansible-test integration: one target per module against genuine LMCache servers (setup_lmcache), on
#                ansible-core 2.19 and 2.22
#   integration  pytest: what a target cannot express, against genuine LMCache servers (0.4.4, 0.5.0, 0.5.6, 0.5.7rc3
#                with API keys, coordinators, nginx for TLS, faults on real servers) and ad-hoc `ansible -m`
#   molecule     molecule test --all: the roles on a local fleet of genuine servers (extensions/molecule)
# Every venv is built with uv from a lock (tests/requirements/*.lock, scripts/requirements/*.lock) and cached under
# ~/.cache/lmcache-kvcache (LMCACHE_KVCACHE_CACHE).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
# ansible-core lines and the controller Python each runs on: the oldest and the newest are the main ones.
lines=(2.19:3.11 2.20:3.12 2.21:3.12 2.22:3.13)
oldest=${lines[0]} newest=${lines[-1]}
# The toolchain of the docs, galaxy and lint stages (ansible-lint, galaxy-importer, antsibull-docs).
publishing=2.21:3.12
# Modules run on the GPU hosts, whose Python may be older than the controller's (RHEL 9: 3.9, Ubuntu 22.04: 3.10).
target_pythons=(3.8 3.9 3.10)

# ansible-test sanity --venv fetches a get-pip script from a host this machine cannot reach; it looks in its
# cache first. This stand-in bootstraps pip with ensurepip and installs what it was asked for.
install_get_pip_stand_in() {
  local ansible_test_cache=$HOME/.ansible/test/cache name
  mkdir -p "$ansible_test_cache"
  for name in get_pip_24_2.py get_pip_25_2.py get_pip_25_3.py get_pip_26_0.py; do
    cat > "$ansible_test_cache/$name" <<'EOF'
import ensurepip
import os
import subprocess
import sys

ensurepip.bootstrap(upgrade=True)
# ensurepip points PIP_CONFIG_FILE at devnull, which hides this machine's pip configuration (CA, mirrors).
os.environ.pop('PIP_CONFIG_FILE', None)
args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
if args:
    sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install'] + args))
EOF
  done
}

# ansible-test --venv makes its venv (tests/output/.tmp/delegation/pythonX.Y) anew in every layout, with pip from the
# index and unpinned versions: 15 s of CPU each time. It takes one it finds finished (marker.txt): give it one built
# with uv from the lock of what it would install (tests/requirements/ansible-test-KIND.txt), once, in the cache.
ansible_test_venv() {  # Python version, what runs in it: units, integration or sanity
  local python_version=$1 kind=$2 venv delegation="$collection/tests/output/.tmp/delegation"
  venv=$(compiled_venv ansible-test "$kind-py$python_version" "$python_version" \
    "$root/tests/requirements/ansible-test-$kind-py$python_version.lock")
  touch "$venv/marker.txt"
  mkdir -p "$delegation"
  ln -sfn "$venv" "$delegation/python$python_version"
}

# The tests of the compatibility shims (the private ansible-core names the collection reads): on every line.
compat_tests=(tests/unit/plugins/module_utils/test_compat.py tests/unit/plugins/plugin_utils/test_action_compat.py
              tests/unit/plugins/plugin_utils/test_hostvars.py)

run_unit() {
  local spec line python_version venv junit tests
  install_get_pip_stand_in
  for spec in "${lines[@]}"; do
    line=${spec%%:*} python_version=${spec##*:}
    venv=$(tool_venv "$line" "$python_version")
    # Every unit test on the oldest and the newest line; the shims' tests on the lines between.
    tests=()
    [ "$spec" = "$oldest" ] || [ "$spec" = "$newest" ] || tests=("${compat_tests[@]}")
    log "ansible-test units: ansible-core $line, Python $python_version ${tests[*]}"
    ansible_test_venv "$python_version" units
    rm -rf "$collection/tests/output/junit"
    (cd "$collection" && PATH="$venv/bin:$PATH" ansible-test units --venv --python "$python_version" --color no \
      ${tests[@]+"${tests[@]}"})
    for junit in "$collection"/tests/output/junit/*.xml; do
      cp "$junit" "$junit_dir/units-$line-$(basename "$junit")"
    done
  done
}

# The shellcheck sanity test is skipped, not failed, without shellcheck: install it where we can.
ensure_shellcheck() {
  command -v shellcheck >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing shellcheck (Debian package) for the shellcheck sanity test"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null
  else
    echo "shellcheck is not installed: the shellcheck sanity test will be skipped" >&2
  fi
}

run_sanity() {
  local spec line python_version venv skip
  install_get_pip_stand_in
  ensure_shellcheck
  for spec in "${lines[@]}"; do
    line=${spec%%:*} python_version=${spec##*:}
    venv=$(tool_venv "$line" "$python_version")
    skip=()
    # ansible-core 2.22.0rc1's pylint test installs dill from a GitHub archive, which this machine cannot reach; the
    # other lines run pylint (2.21 has the same checkers).
    [ "$line" != 2.22 ] || skip=(--skip-test pylint)
    log "ansible-test sanity: ansible-core $line, Python $python_version ${skip[*]}"
    ansible_test_venv "$python_version" sanity
    # Its sanity tests' venvs, built with uv where missing (pip took most of a cold suite's time).
    "$venv/bin/python" "$root/tests/helpers/sanity_venvs.py" "$(ensure_uv)" "$python_version" "$(find_python "$python_version")"
    (cd "$collection" && PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$python_version" --color no ${skip[@]+"${skip[@]}"})
  done
  venv=$(tool_venv "${oldest%%:*}" "${oldest##*:}")
  for python_version in "${target_pythons[@]}"; do
    log "ansible-test sanity compile and import of the modules: target Python $python_version"
    (cd "$collection" && PATH="$venv/bin:$(dirname "$(find_python "$python_version")"):$PATH" \
      ansible-test sanity --venv --test compile --test import --python "$python_version" --color no)
  done
}

# Genuine LMCache releases, one venv each, cached (uv links them from one cache: seconds once the cache is warm).
lmcache_versions=(0.5.6 0.5.0 0.4.4 0.5.7rc3)
ensure_lmcache_venvs() {
  local version
  for version in "${lmcache_versions[@]}"; do
    "$root/scripts/ensure_venv.sh" "$version" >/dev/null
  done
}

# The TLS tests put nginx (Debian's package) in front of a genuine node; install it where we can, never started as a
# service (policy-rc.d), so nothing listens beyond what the tests start on 127.0.0.1.
ensure_nginx() {
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing nginx (Debian package) for the TLS tests"
    local policy=/usr/sbin/policy-rc.d made_policy=
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && made_policy=1
    fi
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
    [ -z "$made_policy" ] || rm -f "$policy"
  else
    echo "nginx is not installed: the TLS tests will be skipped" >&2
  fi
}

# ansible-rulebook (the Event-Driven Ansible tests) runs its rules engine on a Java runtime: Debian's OpenJDK 17.
ensure_java() {
  command -v java >/dev/null && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing a Java runtime (Debian's OpenJDK 17) for ansible-rulebook"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      openjdk-17-jre-headless >/dev/null
  else
    echo "no Java runtime: the Event-Driven Ansible tests will be skipped (apt-get install openjdk-17-jre-headless)" >&2
  fi
}

run_integration() {
  local venv
  venv=$(tool_venv "${oldest%%:*}" "${oldest##*:}")
  ensure_nginx
  ensure_java
  ensure_lmcache_venvs
  log "integration tests against genuine LMCache servers (ansible-core ${oldest%%:*})"
  (cd "$collection" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" PYTHONPATH="$build" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$junit_dir/integration.xml" tests/integration)
}

# The fan-out, the inventory, the roles and the untrusted-data tests on the simulated fleet, on one ansible-core line.
fleet_on() {
  local line=${1%%:*} python_version=${1##*:} venv
  venv=$(tool_venv "$line" "$python_version")
  log "the fan-out, the inventory and the roles on a simulated fleet (ansible-core $line, Python $python_version)"
  (cd "$collection" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" PYTHONPATH="$build" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$junit_dir/fleet-$line.xml" tests/fleet)
}
run_fleet() { fleet_on "$oldest"; }
run_fleet_next() { fleet_on "$newest"; }

run_lint() {
  local venv left
  venv=$(tool_venv "${publishing%%:*}" "${publishing##*:}")
  log "ansible-lint from the collection root, as a user runs it (.config/ansible-lint.yml)"
  # No collections path of ours: ansible-lint installs the collection it is run in itself (offline: false, with no
  # requirements to fetch), so a plain ansible-lint in a clone resolves the collection's own modules and roles.
  (cd "$collection" && env -u ANSIBLE_COLLECTIONS_PATH PATH="$venv/bin:$PATH" ansible-lint --nocolor)
  # What it leaves behind (.ansible/) must be ignored by git and by the build, or the next tarball ships it.
  left=$(git -C "$collection" status --porcelain --untracked-files=all | grep -v '^A ' || true)
  if [ -n "$left" ]; then
    printf 'ansible-lint left files that are neither committed nor ignored:\n%s\n' "$left" >&2
    return 1
  fi
}

# The docsite is built offline: intersphinx cannot fetch the inventories of docs.ansible.com and docs.python.org, so
# Sphinx cannot resolve the labels of Ansible's own docs that the modules' pages link to. Those warnings, and only
# those, are expected here.
offline_docsite_warnings="undefined label: '(action_plugins|common_return_values|ansible_configuration_settings)'"

run_docs() {
  local venv docsite
  venv=$(tool_venv "${publishing%%:*}" "${publishing##*:}")
  log "antsibull-changelog lint"
  (cd "$collection" && "$venv/bin/antsibull-changelog" lint)
  log "the docsite: antsibull-docs sphinx-init and build, warnings are errors"
  docsite="$build/docsite"
  rm -rf "$docsite" && mkdir -m 700 "$docsite"
  (cd "$docsite" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" \
    antsibull-docs sphinx-init --use-current --lenient --fail-on-error --dest-dir . lmcache.kvcache >/dev/null)
  # No traffic beyond the package registries: no intersphinx inventories.
  echo 'intersphinx_mapping = {}' >> "$docsite/conf.py"
  if ! (cd "$docsite" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" ./build.sh > build.log 2>&1); then
    cat "$docsite/build.log" >&2
    return 1
  fi
  # build.sh takes no -W; with the expected warnings above, the check is here: any other warning fails.
  if grep -E 'WARNING|ERROR' "$docsite/build.log" | grep -Ev "$offline_docsite_warnings"; then
    echo "the docsite build warned (above); the whole log is $docsite/build.log" >&2
    return 1
  fi
  echo "docsite: $docsite/build/html/index.html" \
    "($(grep -cE "$offline_docsite_warnings" "$docsite/build.log") offline-only warnings)"
}

# galaxy-importer as Galaxy and Automation Hub run it, minus what needs containers (ansible-test has its own stages).
run_galaxy() {
  local venv work
  venv=$(tool_venv "${publishing%%:*}" "${publishing##*:}")
  work="$build/galaxy"
  rm -rf "$work" && mkdir -p "$work/home"
  (cd "$collection" && "$venv/bin/ansible-galaxy" collection build --output-path "$work" >/dev/null)
  cat > "$work/galaxy-importer.cfg" <<'EOF'
[galaxy-importer]
RUN_ANSIBLE_DOC = True
RUN_ANSIBLE_LINT = True
RUN_ANSIBLE_TEST = False
RUN_FLAKE8 = True
CHECK_CHANGELOG = True
CHECK_REQUIRED_TAGS = True
LOCAL_IMAGE_DOCKER = False
EOF
  log "galaxy-importer on $(basename "$work"/*.tar.gz)"
  # A HOME of its own: collections installed in the user's ~/.ansible would shadow the tarball's own plugins.
  (cd "$work" && HOME="$work/home" GALAXY_IMPORTER_CONFIG="$work/galaxy-importer.cfg" PATH="$venv/bin:$PATH" \
    "$venv/bin/python" -m galaxy_importer.main "$work"/lmcache-kvcache-*.tar.gz) > "$work/importer.log" 2>&1 || {
    cat "$work/importer.log" >&2
    return 1
  }
  if grep -E '^(WARNING|ERROR)|Traceback' "$work/importer.log"; then
    echo "galaxy-importer reported the above (whole log: $work/importer.log)" >&2
    return 1
  fi
  grep -q 'Importer processing completed successfully' "$work/importer.log"
  echo "galaxy-importer: clean"
}

# ansible-test integration: the targets start their fleet of genuine servers on first use (setup_lmcache); the second
# line finds it healthy and reuses it (each target sets up the state it checks), and it is stopped here.
run_targets() {
  local spec line python_version venv state="$build/integration-targets/fleet.json" status=0
  ensure_lmcache_venvs
  install_get_pip_stand_in
  printf 'lmcache_it_state: %s\nlmcache_it_cache: %s\n' "$state" "$cache" \
    > "$collection/tests/integration/integration_config.yml"
  for spec in "$oldest" "$newest"; do
    line=${spec%%:*} python_version=${spec##*:}
    venv=$(tool_venv "$line" "$python_version")
    log "ansible-test integration: the targets against genuine LMCache servers (ansible-core $line, Python $python_version)"
    ansible_test_venv "$python_version" integration
    rm -rf "$collection/tests/output/junit"
    (cd "$collection" && PATH="$venv/bin:$PATH" ansible-test integration --venv --python "$python_version" --color no) ||
      status=$?
    [ "$status" = 0 ] || break
  done
  [ ! -f "$state" ] || "$venv/bin/python" "$root/scripts/fleet.py" down --state "$state"
  return "$status"
}

run_molecule() {
  local venv state status=0
  venv=$(tool_venv "${oldest%%:*}" "${oldest##*:}")
  ensure_lmcache_venvs
  state=$(mktemp -d "${TMPDIR:-/tmp}/lmcache-molecule.XXXXXX")
  log "molecule test --all: the roles on a local fleet of genuine LMCache servers"
  # A home of its own: Molecule installs the collection under test into ~/.ansible/collections, where it would shadow
  # the collection for every later Ansible run of this user (ansible-lint in the other lane, a newer clone's tests).
  (cd "$collection" && HOME="$state/home" LMCACHE_KVCACHE_CACHE="$cache" UV_CACHE_DIR="$(uv_cache_dir)" \
    PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" LMCACHE_MOLECULE_DIR="$state" \
    LMCACHE_KVCACHE_ROOT="$collection" ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 molecule test --all) || status=$?
  # Whatever happened in Molecule, no server it started outlives the stage.
  "$venv/bin/python" "$root/scripts/fleet.py" down --state "$state/fleet.json"
  rm -rf "$state"
  return "$status"
}

all_stages=(unit sanity lint docs galaxy fleet fleet-next targets integration molecule)
stage=${1:-}
case " ${all_stages[*]} " in
  *" $stage "*) ;;
  *) echo "usage: tests/stages.sh STAGE, one of: ${all_stages[*]} (./tests/run.sh runs them all)" >&2; exit 2 ;;
esac
# Each stage has a layout of its own (build/stages/STAGE), so that stages can run at the same time; the JUnit files of
# every stage go to build/junit, which ./tests/run.sh sums up.
junit_dir="$build/junit"
build="$build/stages/$stage"
collection="$build/ansible_collections/lmcache/kvcache"
layout_collection
mkdir -p "$junit_dir"
"run_${stage//-/_}"
