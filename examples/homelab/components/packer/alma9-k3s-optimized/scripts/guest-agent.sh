#!/usr/bin/env bash
# Makes sure the QEMU guest agent is installed and running: Proxmox reads the VM's addresses through it
# (Packer during the build, Terraform and the operator after cloning) and uses it for clean shutdowns.
set -euo pipefail

dnf -y install qemu-guest-agent
systemctl enable --now qemu-guest-agent
systemctl is-active --quiet qemu-guest-agent
echo "qemu-guest-agent $(rpm -q --qf '%{VERSION}' qemu-guest-agent) is enabled and running"
