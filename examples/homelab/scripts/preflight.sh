#!/usr/bin/env bash
# Preflight checks for the homelab repository: everything that can be checked without Proxmox.
# Run from anywhere; it works in the repository root. Tools: strata, terraform (or tofu), packer,
# kubectl, yamllint, shellcheck and, if installed, ansible-playbook.
#
#   scripts/preflight.sh              offline checks
#   PREFLIGHT_ONLINE=1 scripts/preflight.sh
#                                     also the checks that download providers, plugins and manifests
#                                     (terraform validate, packer validate, the Argo CD install manifest)
# Environment: STRATA (default strata; may include arguments, e.g. "node ../strata/bin/strata.js"),
#              TF (default terraform; set TF=tofu for OpenTofu).
set -euo pipefail
cd "$(dirname "$0")/.."

read -r -a strata <<<"${STRATA:-strata}"
tf=${TF:-terraform}
# A TF_CLI_CONFIG_FILE that names a missing file only makes terraform print a warning; the checks need none.
if [ -n "${TF_CLI_CONFIG_FILE:-}" ] && [ ! -e "$TF_CLI_CONFIG_FILE" ]; then
  export TF_CLI_CONFIG_FILE=
fi
online=${PREFLIGHT_ONLINE:-0}
stacks=(pve-prod pve-dev)

# A kustomization needs the network when it, or a local kustomization it includes, lists a remote resource.
needs_network() {
  local dir=$1 item
  if grep -Eq '^[[:space:]]*-[[:space:]]*(https?://|github\.com/|git@)' "$dir/kustomization.yaml"; then
    return 0
  fi
  while read -r item; do
    if [ -d "$dir/$item" ] && needs_network "$dir/$item"; then
      return 0
    fi
  done < <(sed -n 's/^[[:space:]]*-[[:space:]]*//p' "$dir/kustomization.yaml")
  return 1
}

echo "==> Stack validation"
"${strata[@]}" validate stacks

echo "==> Stack description"
"${strata[@]}" describe stacks --format yaml >/dev/null
for stack in "${stacks[@]}"; do
  "${strata[@]}" describe component k3s-cluster -s "$stack" --format yaml >/dev/null
done

echo "==> Formatting"
"$tf" fmt -check -recursive components/terraform
for dir in components/packer/*/; do
  packer fmt -check "$dir"
done

echo "==> Packer syntax"
for dir in components/packer/*/; do
  packer validate -syntax-only "$dir"
done

echo "==> Kubernetes manifests"
while read -r file; do
  dir=$(dirname "$file")
  if needs_network "$dir" && [ "$online" != "1" ]; then
    echo "skipped $dir (fetches remote resources; set PREFLIGHT_ONLINE=1)"
    continue
  fi
  kubectl kustomize "$dir" >/dev/null
  echo "rendered $dir"
done < <(find k8s components/kubernetes -name kustomization.yaml | sort)

echo "==> YAML lint"
yamllint -s .

echo "==> Shell script lint"
find scripts components -name '*.sh' -print0 | xargs -0 shellcheck

if command -v ansible-playbook >/dev/null 2>&1; then
  echo "==> Ansible syntax"
  for playbook in components/ansible/*/site.yml; do
    ansible-playbook --syntax-check -i localhost, "$playbook" >/dev/null
  done
fi

if [ "$online" = "1" ]; then
  echo "==> Packer validation (needs the Proxmox plugin)"
  for stack in "${stacks[@]}"; do
    "${strata[@]}" packer validate alma9-k3s-optimized -s "$stack"
  done
  echo "==> Terraform validation (downloads bpg/proxmox)"
  for stack in "${stacks[@]}"; do
    "${strata[@]}" terraform validate k3s-cluster -s "$stack"
  done
fi

echo "✓ All preflight checks passed"
