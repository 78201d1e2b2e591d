#!/usr/bin/env bash
# Installs everything strata's tests drive for real: Debian's tools and the npm packages.
# Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
# graphviz's dot parses the DOT pictures and Debian's chromium renders the HTML reports in the tests.
for pair in packer:packer ansible-playbook:ansible-core age:age yamllint:yamllint shellcheck:shellcheck git:git psql:postgresql-client zsh:zsh fish:fish strip:binutils zip:zip unzip:unzip dot:graphviz chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
# The PVE client conformance suite (test/pve-clients) drives third-party clients: proxmoxer and requests for Debian's
# python3, and the full `ansible` package, which carries community.general's proxmox modules (about 250 MB).
/usr/bin/python3 -c 'import proxmoxer, requests' >/dev/null 2>&1 || need+=(python3-proxmoxer python3-requests)
[ -d /usr/lib/python3/dist-packages/ansible_collections/community/general ] || need+=(ansible)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need[*]}; install them with: sudo apt-get install ${need[*]}" >&2
    exit 1
  fi
  echo "setup: apt-get install ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
for tool in terraform kubectl; do
  command -v "$tool" >/dev/null 2>&1 || echo "setup: warning: $tool is not on PATH; the tests that drive it will fail" >&2
done
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
