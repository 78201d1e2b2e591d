#!/usr/bin/env bash
# Installs k3s (server) without Traefik: the cluster gets its ingress from GitOps later.
# k3s is enabled but never started in the template: a start here would bake one node identity and one
# set of certificates into every VM cloned from it. Each clone starts k3s on its first boot.
set -euo pipefail

: "${K3S_VERSION:?K3S_VERSION must be set, for example v1.28.5+k3s1}"

installer=$(mktemp)
trap 'rm -f "$installer"' EXIT
curl -sfL https://get.k3s.io -o "$installer"

# On an SELinux-enforcing EL system the installer also adds the rancher-k3s-common repository and k3s-selinux.
INSTALL_K3S_VERSION="$K3S_VERSION" \
  INSTALL_K3S_SKIP_START=true \
  INSTALL_K3S_EXEC="server --disable traefik --write-kubeconfig-mode 0600" \
  sh "$installer"

# The API server, the kubelet and flannel's VXLAN must be reachable; pods and services talk freely.
if systemctl is-active --quiet firewalld; then
  firewall-cmd --permanent --add-port=6443/tcp --add-port=10250/tcp --add-port=8472/udp
  firewall-cmd --permanent --zone=trusted --add-source=10.42.0.0/16 --add-source=10.43.0.0/16
  firewall-cmd --reload
fi

# Verify: the binary runs, the service starts on boot, and it has not started yet.
test -x /usr/local/bin/k3s
/usr/local/bin/k3s --version
systemctl is-enabled --quiet k3s
if systemctl is-active --quiet k3s; then
  echo "k3s must not run inside the template" >&2
  exit 1
fi
