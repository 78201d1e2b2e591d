#!/usr/bin/env bash
# The README's first command: strata on the bundled homelab repository, no Proxmox needed.
set -euo pipefail
cd "$(dirname "$0")/../examples/homelab"
strata() { node ../../bin/strata.js "$@"; }
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s$ strata %s%s\n' "$bold" "$*" "$plain"; strata "$@"; }

step list stacks
step validate stacks
step describe stacks -s pve-prod --components k3s-cluster --sections vars,workspace
step workflow deploy-homelab -f deploy --dry-run
step manifest plan nested-pve -s pve-prod
# A nested Proxmox host with two child VMs and a sibling VM: created, verified and destroyed on the built-in
# Proxmox VE simulator (in-process, real HTTPS API), ending with the report's path.
step manifest test nested-pve -s pve-prod --simulator --yes
