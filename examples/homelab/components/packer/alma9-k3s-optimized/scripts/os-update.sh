#!/usr/bin/env bash
# Brings the freshly installed system up to date, sets the time zone and adds the basic tooling of every node.
set -euo pipefail

dnf -y upgrade --refresh
dnf -y install curl jq tar vim-minimal bash-completion chrony container-selinux iptables-nft

timedatectl set-timezone "${TIMEZONE:-UTC}"
systemctl enable --now chronyd

# Clones resize their disk; cloud-init's growpart grows the root partition, XFS grows on mount.
systemctl enable cloud-init.service cloud-config.service cloud-final.service
