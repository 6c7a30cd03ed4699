#!/usr/bin/env bash
# shellcheck disable=SC2154  # cache, build and collection are set by scripts/common.sh
# The whole test suite, from a fresh machine: ./tests/run.sh
#   unit         pytest unit tests, on ansible-core 2.19 (Python 3.11) and 2.21 (Python 3.12)
#   sanity       ansible-test sanity (no ignore entries), on the same two lines; compile and import of the
#                modules on the target Pythons 3.8 - 3.10
#   lint         ansible-lint, production profile, on roles, playbooks and Molecule scenarios
#   integration  the modules through ansible-playbook and ad-hoc `ansible -m` against genuine LMCache servers
#                (0.4.4, 0.5.0, 0.5.6, 0.5.7rc3 with API keys, coordinators, nginx for TLS)
#   fleet        the fan-out, the coordinator inventory and the roles against a simulated fleet with injected faults
#   molecule     molecule test --all: the roles on a local fleet of genuine servers (extensions/molecule)
# Name stages to run only those: ./tests/run.sh unit sanity
# Tool venvs and LMCache venvs are built once and cached under ~/.cache/lmcache-kvcache (LMCACHE_KVCACHE_CACHE).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
. "$root/scripts/common.sh"
lines=(2.19:3.11 2.21:3.12)
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

run_unit() {
  local spec line python_version venv
  for spec in "${lines[@]}"; do
    line=${spec%%:*} python_version=${spec##*:}
    venv=$(tool_venv "$line" "$python_version")
    log "unit tests: ansible-core $("$venv/bin/python" -c 'import ansible; print(ansible.__version__)') on Python $python_version"
    (cd "$collection" && PYTHONPATH="$build" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
      --junitxml="$build/junit/unit-$line.xml" tests/unit)
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
  local spec line python_version venv
  install_get_pip_stand_in
  ensure_shellcheck
  for spec in "${lines[@]}"; do
    line=${spec%%:*} python_version=${spec##*:}
    venv=$(tool_venv "$line" "$python_version")
    log "ansible-test sanity: ansible-core $line, Python $python_version"
    (cd "$collection" && PATH="$venv/bin:$PATH" ansible-test sanity --venv --python "$python_version" --color no)
  done
  venv=$(tool_venv "${lines[0]%%:*}" "${lines[0]##*:}")
  for python_version in "${target_pythons[@]}"; do
    log "ansible-test sanity compile and import of the modules: target Python $python_version"
    (cd "$collection" && PATH="$venv/bin:$(dirname "$(find_python "$python_version")"):$PATH" \
      ansible-test sanity --venv --test compile --test import --python "$python_version" --color no)
  done
}

# Genuine LMCache releases, one venv each, cached: built in the background while the first stages run.
lmcache_versions=(0.5.6 0.5.0 0.4.4 0.5.7rc3)
start_lmcache_venvs() {
  (for version in "${lmcache_versions[@]}"; do "$root/scripts/ensure_venv.sh" "$version" >/dev/null; done) \
    > "$build/lmcache-venvs.log" 2>&1 &
  lmcache_venvs_pid=$!
}
wait_lmcache_venvs() {
  [ -n "${lmcache_venvs_pid:-}" ] || return 0
  log "waiting for the LMCache venvs (built in the background)"
  if ! wait "$lmcache_venvs_pid"; then
    cat "$build/lmcache-venvs.log" >&2
    return 1
  fi
  lmcache_venvs_pid=
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

run_integration() {
  local venv
  venv=$(tool_venv "${lines[0]%%:*}" "${lines[0]##*:}")
  ensure_nginx
  wait_lmcache_venvs
  log "integration tests against genuine LMCache servers (ansible-core ${lines[0]%%:*})"
  (cd "$collection" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" PYTHONPATH="$build" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$build/junit/integration.xml" tests/integration)
}

run_fleet() {
  local venv
  venv=$(tool_venv "${lines[0]%%:*}" "${lines[0]##*:}")
  log "the fan-out, the inventory and the roles on a simulated fleet (ansible-core ${lines[0]%%:*})"
  (cd "$collection" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" PYTHONPATH="$build" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider --junitxml="$build/junit/fleet.xml" tests/fleet)
}

run_lint() {
  local venv
  venv=$(tool_venv "${lines[0]%%:*}" "${lines[0]##*:}")
  log "ansible-lint, production profile: roles, playbooks, Molecule scenarios"
  (cd "$collection" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" \
    ansible-lint --profile production --offline --nocolor roles playbooks extensions)
}

run_molecule() {
  local venv state status=0
  venv=$(tool_venv "${lines[0]%%:*}" "${lines[0]##*:}")
  wait_lmcache_venvs
  state=$(mktemp -d "${TMPDIR:-/tmp}/lmcache-molecule.XXXXXX")
  log "molecule test --all: the roles on a local fleet of genuine LMCache servers"
  (cd "$collection" && PATH="$venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$build" LMCACHE_MOLECULE_DIR="$state" \
    LMCACHE_KVCACHE_ROOT="$collection" ANSIBLE_FORCE_COLOR=0 NO_COLOR=1 molecule test --all) || status=$?
  # Whatever happened in Molecule, no server it started outlives the stage.
  "$venv/bin/python" "$root/scripts/fleet.py" down --state "$state/fleet.json"
  rm -rf "$state"
  return "$status"
}

all_stages=(unit sanity lint fleet integration molecule)
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=("${all_stages[@]}")
for stage in "${stages[@]}"; do
  case " ${all_stages[*]} " in
    *" $stage "*) ;;
    *) echo "unknown stage: $stage (expected one of: ${all_stages[*]})" >&2; exit 2 ;;
  esac
done
layout_collection
rm -rf "$build/junit"
case " ${stages[*]} " in
  *" integration "* | *" molecule "*) start_lmcache_venvs ;;
esac
for stage in "${stages[@]}"; do
  "run_$stage"
done
log "all requested stages passed: ${stages[*]}"
# One closing line over every pytest run above (sanity reports by itself and stops the script on failure).
python3 - "$build/junit" <<'EOF'
import glob
import sys
import xml.etree.ElementTree as ET

counts = {'tests': 0, 'failures': 0, 'errors': 0, 'skipped': 0}
for path in glob.glob(sys.argv[1] + '/*.xml'):
    for suite in ET.parse(path).getroot().iter('testsuite'):
        for key in counts:
            counts[key] += int(suite.get(key, 0))
failed = counts['failures'] + counts['errors']
print('pytest: %d passed, %d failed, %d skipped' % (counts['tests'] - failed - counts['skipped'], failed, counts['skipped']))
EOF
