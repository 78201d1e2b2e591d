terraform {
  # "~>" pins as the team policy asks: any 1.x from 1.6 on, Terraform or OpenTofu.
  required_version = "~> 1.6"

  required_providers {
    proxmox = {
      # bpg/proxmox: maintained, covers the current Proxmox VE API, full cloud-init support (README.md).
      source  = "bpg/proxmox"
      version = "~> 0.66"
    }
  }
}
