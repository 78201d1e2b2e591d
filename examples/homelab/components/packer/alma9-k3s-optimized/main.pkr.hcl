# The k3s-optimized AlmaLinux 9 template, built with the proxmox-iso builder of the Packer Proxmox
# plugin (github.com/hashicorp/proxmox >= 1.2; README.md says how to install it).
# Install from the ISO with a kickstart, provision with the scripts in scripts/, convert to a template.

source "proxmox-iso" "alma9-k3s" {
  proxmox_url              = var.proxmox_url
  username                 = var.proxmox_username
  token                    = var.proxmox_token
  insecure_skip_tls_verify = var.proxmox_skip_tls_verify
  node                     = var.proxmox_node

  vm_name              = var.vm_name
  template_name        = local.template_name
  template_description = "AlmaLinux ${var.alma_version} with k3s ${var.k3s_version} (${var.image_architecture}), built ${local.build_time}"
  tags                 = local.template_tags

  # UEFI firmware on a q35 machine. Secure Boot keys are not enrolled; set pre_enrolled_keys to enforce it.
  bios    = "ovmf"
  machine = "q35"
  efi_config {
    efi_storage_pool  = var.proxmox_storage
    efi_type          = "4m"
    pre_enrolled_keys = false
  }

  os              = "l26"
  cpu_type        = "host"
  cores           = local.cores
  memory          = local.memory
  scsi_controller = "virtio-scsi-single"
  # Packer reads the build VM's address from the guest agent, so the kickstart installs it.
  qemu_agent = true

  disks {
    type         = "scsi"
    disk_size    = local.disk_size
    storage_pool = var.proxmox_storage
    format       = "raw"
    io_thread    = true
    discard      = true
    ssd          = true
  }

  network_adapters {
    model    = "virtio"
    bridge   = var.proxmox_bridge
    firewall = false
  }

  boot_iso {
    type             = "scsi"
    iso_url          = var.alma_iso_url
    iso_checksum     = var.alma_iso_checksum
    iso_storage_pool = var.proxmox_iso_storage
    # The Proxmox node downloads the ISO itself instead of Packer uploading it.
    iso_download_pve = true
    unmount          = true
  }

  # An empty cloud-init drive on the template: every clone gets its user, SSH key and address from it.
  cloud_init              = true
  cloud_init_storage_pool = var.proxmox_storage

  # Kickstart served by Packer's HTTP server at /ks.cfg, rendered with this build's values.
  http_content = {
    "/ks.cfg" = templatefile("${path.root}/http/ks.cfg", {
      root_password = local.build_password
      timezone      = var.timezone
    })
  }

  # GRUB (UEFI): select "Install AlmaLinux", edit its entry, append the kickstart to the kernel line, boot.
  boot_wait = "10s"
  boot_command = [
    "<up>e<wait>",
    "<down><down><end><wait>",
    " inst.text inst.ks=http://{{ .HTTPIP }}:{{ .HTTPPort }}/ks.cfg<wait>",
    "<leftCtrlOn>x<leftCtrlOff>",
  ]

  ssh_username = "root"
  ssh_password = local.build_password
  ssh_timeout  = "30m"
}

build {
  name    = "alma9-k3s-optimized"
  sources = ["source.proxmox-iso.alma9-k3s"]

  provisioner "shell" {
    environment_vars = ["TIMEZONE=${var.timezone}"]
    scripts = [
      "${path.root}/scripts/os-update.sh",
      "${path.root}/scripts/guest-agent.sh",
    ]
  }

  provisioner "shell" {
    environment_vars = ["K3S_VERSION=${var.k3s_version}"]
    script           = "${path.root}/scripts/k3s-install.sh"
  }

  provisioner "shell" {
    environment_vars = ["OSCAP_AUDIT=${var.oscap_audit}"]
    script           = "${path.root}/scripts/hardening-oscap.sh"
  }

  # Last: removes the build's identity and access, so run nothing after it.
  provisioner "shell" {
    script = "${path.root}/scripts/cleanup.sh"
  }

  # manifest.json in the component folder: `strata packer output` reads the template's VM id from it.
  post-processor "manifest" {
    output     = "manifest.json"
    strip_path = true
    custom_data = {
      template_name = local.template_name
      k3s_version   = var.k3s_version
      alma_version  = var.alma_version
      architecture  = var.image_architecture
    }
  }
}
