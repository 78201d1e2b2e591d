#!/usr/bin/env bash
# Copies the k3s kubeconfig from the node and points it at the node's address instead of 127.0.0.1.
#
# Usage: scripts/fetch-kubeconfig.sh <user@host> <api-host> <output-file>
#   scripts/fetch-kubeconfig.sh admin@10.23.45.31 10.23.45.31 .kube/homelab-pve-prod.yaml
#
# The first connection to a new VM accepts its host key (StrictHostKeyChecking=accept-new); later
# connections verify it. The file is written with mode 600 and replaced atomically.
set -euo pipefail

if [ "$#" -ne 3 ]; then
  echo "usage: $0 <user@host> <api-host> <output-file>" >&2
  exit 2
fi
target=$1
api_host=$2
out=$3

mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
chmod 600 "$tmp"

ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new "$target" sudo cat /etc/rancher/k3s/k3s.yaml |
  sed "s#https://127.0.0.1:6443#https://${api_host}:6443#" >"$tmp"

if ! grep -q "server: https://${api_host}:6443" "$tmp"; then
  echo "fetch-kubeconfig: $target returned no k3s kubeconfig with a server on 127.0.0.1:6443" >&2
  exit 1
fi
mv "$tmp" "$out"
trap - EXIT
echo "kubeconfig written to $out"
