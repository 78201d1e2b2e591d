#!/usr/bin/env bash
# Exits 0 when the Proxmox node lists a template with the given name, 1 otherwise: the condition of the
# workflows' wait-for-template step (a wait step polls it until it succeeds or times out).
#
# Usage: PROXMOX_TOKEN=<secret> scripts/pve-template-exists.sh <api-url> <node> <template-name> <token-id>
#   scripts/pve-template-exists.sh https://10.23.45.10:8006/api2/json pve alma9-k3-node-amd64-v1.28.5-v1 'root@pam!packer'
#
# Proxmox's certificate is verified against PROXMOX_CA_FILE when it is set; without it the check accepts
# the self-signed certificate of a default installation, like the stacks do (proxmox_skip_tls_verify).
set -euo pipefail

if [ "$#" -ne 4 ]; then
  echo "usage: PROXMOX_TOKEN=<secret> $0 <api-url> <node> <template-name> <token-id>" >&2
  exit 2
fi
api_url=${1%/}
node_name=$2
template=$3
token_id=$4
: "${PROXMOX_TOKEN:?PROXMOX_TOKEN must hold the secret of the API token $token_id}"

tls=(--insecure)
if [ -n "${PROXMOX_CA_FILE:-}" ]; then
  tls=(--cacert "$PROXMOX_CA_FILE")
fi

# The token travels in a header read from stdin, so it never shows up in the process list. A failed request
# (unreachable, 401, 5xx) ends the script here with curl's message and exit code.
response=$(printf 'Authorization: PVEAPIToken=%s=%s\n' "$token_id" "$PROXMOX_TOKEN" |
  curl --silent --show-error --fail --max-time 20 "${tls[@]}" --header @- "$api_url/nodes/$node_name/qemu")

printf '%s' "$response" | node -e '
  let body = "";
  process.stdin.on("data", (chunk) => { body += chunk; });
  process.stdin.on("end", () => {
    const wanted = process.argv[1];
    const vms = JSON.parse(body).data || [];
    const found = vms.find((vm) => vm.name === wanted && Number(vm.template) === 1);
    if (found) {
      console.log("template " + wanted + " is VM " + found.vmid);
      process.exit(0);
    }
    console.error("template " + wanted + " is not listed yet");
    process.exit(1);
  });
' "$template"
