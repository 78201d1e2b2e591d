# Single-node k3s cluster: one VM cloned from the Packer template, configured by cloud-init.

locals {
  # bpg/proxmox wants the base URL; the stacks share the API URL with Packer, which ends in /api2/json.
  api_endpoint = "${trimsuffix(replace(var.pm_api_url, "//api2/json/?$/", ""), "/")}/"

  stack_name = var.tenant != "" && var.stage != "" ? "${var.tenant}-${var.stage}" : ""
  vm_address = split("/", var.vm_ip)[0]

  # Sizes: explicit variables win over the preset. Null when neither is set; a precondition reports it.
  preset       = var.vm_preset == null ? null : lookup(var.presets, var.vm_preset, null)
  cores        = try(coalesce(var.vm_cores, local.preset.cores), null)
  memory       = try(coalesce(var.vm_memory, local.preset.memory), null)
  disk_size_gb = var.vm_disk_size != null ? tonumber(trimsuffix(var.vm_disk_size, "G")) : try(local.preset.disk, null)

  # The template: vm_template, else the image's entry in images.
  template_name = var.vm_template != null ? var.vm_template : try(var.images[var.vm_image], null)
  templates     = data.proxmox_virtual_environment_vms.template.vms

  # Relative to the repository root (where the workflows run); same path as scripts/fetch-kubeconfig.sh in the workflows and KUBECONFIG of the kubernetes components.
  kubeconfig_path = ".kube/homelab-${local.stack_name == "" ? var.vm_name : local.stack_name}.yaml"
}

provider "proxmox" {
  endpoint = local.api_endpoint
  # Null (no secret in the stack) lets the provider read PROXMOX_VE_API_TOKEN from the environment.
  api_token = var.pm_api_token_secret == null ? null : "${var.pm_api_token_id}=${var.pm_api_token_secret}"
  insecure  = var.pm_tls_insecure
}

# The template is named in the stacks; Proxmox clones by VM id, so look the id up by name.
data "proxmox_virtual_environment_vms" "template" {
  node_name = var.vm_node

  filter {
    name   = "template"
    values = ["true"]
  }

  filter {
    name   = "name"
    values = [coalesce(local.template_name, "(no template named)")]
  }
}

resource "proxmox_virtual_environment_vm" "k3s_node" {
  name        = var.vm_name
  node_name   = var.vm_node
  description = "Single-node k3s cluster${local.stack_name == "" ? "" : " of stack ${local.stack_name}"}, cloned from ${coalesce(local.template_name, "?")}. Managed by Terraform."
  # Proxmox stores tags sorted; sorting here keeps plans free of spurious diffs.
  tags = sort(compact(["k3s", local.stack_name]))

  on_boot = true
  started = true
  machine = "q35"
  bios    = "ovmf"

  clone {
    vm_id        = length(local.templates) == 1 ? local.templates[0].vm_id : null
    node_name    = var.vm_node
    datastore_id = var.vm_storage
    full         = true
  }

  agent {
    enabled = true
  }

  cpu {
    cores = local.cores
    type  = "host"
  }

  memory {
    dedicated = local.memory
  }

  disk {
    datastore_id = var.vm_storage
    interface    = "scsi0"
    size         = local.disk_size_gb
    ssd          = true
    discard      = "on"
    iothread     = true
  }

  network_device {
    bridge = var.vm_bridge
    model  = "virtio"
  }

  # The template's kernel logs to ttyS0 as well; the serial port makes that console usable.
  serial_device {}

  operating_system {
    type = "l26"
  }

  initialization {
    datastore_id = var.vm_storage

    ip_config {
      ipv4 {
        address = var.vm_ip
        gateway = var.vm_gateway
      }
    }

    dns {
      servers = [var.vm_nameserver]
    }

    user_account {
      username = var.ci_user
      keys     = [trimspace(var.ci_ssh_pubkey)]
    }
  }

  lifecycle {
    precondition {
      condition     = var.vm_preset == null || local.preset != null
      error_message = "vm_preset ${coalesce(var.vm_preset, "?")} is not in presets (${join(", ", keys(var.presets))})."
    }
    precondition {
      condition     = local.cores != null && local.memory != null && local.disk_size_gb != null
      error_message = "Size the VM: set vm_preset, or all of vm_cores, vm_memory and vm_disk_size."
    }
    precondition {
      condition     = local.template_name != null && !strcontains(coalesce(local.template_name, ":"), ":")
      error_message = "Name a template to clone: vm_template, or vm_image with an images entry that is a template name (not a volume id)."
    }
    precondition {
      condition     = length(local.templates) == 1
      error_message = "Expected exactly one template named ${coalesce(local.template_name, "?")} on node ${var.vm_node}, found ${length(local.templates)}. Build it first: strata packer build alma9-k3s-optimized -s <stack>."
    }
  }
}
