#!/usr/bin/env bash
# Turns the build VM into a clean template: every clone must get its own identity, and the build's
# root access must not survive into the template.
set -euo pipefail

dnf -y clean all

# Identity: machine id, SSH host keys (sshd-keygen recreates them on first boot), cloud-init state.
truncate -s 0 /etc/machine-id
rm -f /etc/ssh/ssh_host_*
cloud-init clean --logs --seed

# k3s has not run (scripts/k3s-install.sh checks), but make sure no node state is baked in.
rm -rf /var/lib/rancher/k3s/server /var/lib/rancher/k3s/agent /etc/rancher/node

# Build access: drop the kickstart's PermitRootLogin override and lock root's password.
for conf in /etc/ssh/sshd_config.d/*.conf; do
  if [ -f "$conf" ] && grep -qi '^PermitRootLogin[[:space:]]\+yes' "$conf"; then
    rm -f "$conf"
  fi
done
passwd -l root

rm -f /root/.bash_history
journalctl --rotate
journalctl --vacuum-time=1s
