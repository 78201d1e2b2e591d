# Values derived once per build.
locals {
  # The build VM's root password exists only for the duration of the build: a fresh random value per
  # run, typed into the kickstart over Packer's HTTP server and locked by scripts/cleanup.sh.
  build_password = uuidv4()

  # The template's name: image_version, else the image's entry in the stack's images.
  template_name = var.image_version != null ? var.image_version : var.images[var.image_name]

  # Build VM size: explicit variables win over the preset.
  preset    = lookup(var.presets, var.build_preset, { cores = 2, memory = 4096, disk = 20 })
  cores     = var.vm_cores != null ? var.vm_cores : local.preset.cores
  memory    = var.vm_memory != null ? var.vm_memory : local.preset.memory
  disk_size = var.vm_disk_size != null ? var.vm_disk_size : "${local.preset.disk}G"

  build_time = formatdate("YYYY-MM-DD'T'hh:mm:ssZ", timestamp())

  # Proxmox tags are separated by semicolons.
  template_tags = join(";", compact([
    "k3s",
    "alma${var.alma_version}",
    var.image_architecture,
    var.tenant != "" && var.stage != "" ? "${var.tenant}-${var.stage}" : "",
  ]))
}
