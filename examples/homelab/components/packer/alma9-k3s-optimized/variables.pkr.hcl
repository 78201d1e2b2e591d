# Inputs of the alma9-k3s-optimized image. strata (like Atmos) writes the stack's vars for this
# component to a JSON var-file and passes it with -var-file; every stack var is listed in
# stacks/catalog/proxmox.yaml and stacks/deploy/*.yaml.

variable "proxmox_url" {
  type        = string
  description = "Proxmox API URL including the API path, for example https://10.23.45.10:8006/api2/json."
}

variable "proxmox_username" {
  type        = string
  description = "API token id in the form user@realm!token (Proxmox expects the token id as the user name)."
}

variable "proxmox_token" {
  type        = string
  description = "Secret of the API token named by proxmox_username. Comes from the environment (PROXMOX_TOKEN), never from a file."
  sensitive   = true
}

variable "proxmox_skip_tls_verify" {
  type        = bool
  description = "Skip verification of the Proxmox API certificate (self-signed on a default installation)."
  default     = false
}

variable "proxmox_node" {
  type        = string
  description = "Proxmox node that runs the build VM and keeps the template."
}

variable "proxmox_storage" {
  type        = string
  description = "Storage pool for the build VM's system disk, EFI disk and cloud-init drive."
}

variable "proxmox_iso_storage" {
  type        = string
  description = "Storage pool (with the ISO content type) that receives the installer ISO."
  default     = "local"
}

variable "proxmox_bridge" {
  type        = string
  description = "Network bridge of the build VM; it needs DHCP and access to the AlmaLinux mirrors and get.k3s.io."
  default     = "vmbr0"
}

variable "image_name" {
  type        = string
  description = "Key in images that names the resulting template (alma9-k3s); Terraform and the operator clone it under the same key."
  default     = "alma9-k3s"
}

variable "image_version" {
  type        = string
  description = "Name of the resulting Proxmox template, for example alma9-k3-node-amd64-v1.28.5-v1; overrides images[image_name]."
  default     = null
}

variable "images" {
  type        = map(string)
  description = "Images of the stack (vars.images of the catalog): image key to template name."
  default     = {}
}

variable "presets" {
  type = map(object({
    cores  = number
    memory = number
    disk   = number
  }))
  description = "Size presets of the stack (vars.presets of the catalog): memory in MiB, disk in GiB."
  default     = {}
}

variable "build_preset" {
  type        = string
  description = "Key in presets that sizes the build VM; vm_cores, vm_memory and vm_disk_size override it."
  default     = "medium"
}

variable "alma_version" {
  type        = string
  description = "AlmaLinux major version; used in the template's tags and description."
  default     = "9"
}

variable "alma_iso_url" {
  type        = string
  description = "URL of the AlmaLinux installer ISO (the minimal ISO is enough)."
}

variable "alma_iso_checksum" {
  type        = string
  description = "Checksum of the ISO: \"sha256:<hex>\", or \"file:<url>\" to read it from the published CHECKSUM file."
}

variable "image_architecture" {
  type        = string
  description = "CPU architecture of the image; used in the template's tags and description."
  default     = "amd64"
}

variable "k3s_version" {
  type        = string
  description = "k3s release to install, for example v1.28.5+k3s1."
}

variable "vm_name" {
  type        = string
  description = "Name of the temporary build VM."
}

variable "vm_cores" {
  type        = number
  description = "CPU cores of the build VM; overrides the preset."
  default     = null
}

variable "vm_memory" {
  type        = number
  description = "Memory of the build VM in MiB; overrides the preset."
  default     = null
}

variable "vm_disk_size" {
  type        = string
  description = "System disk size with unit, for example 20G; overrides the preset. Clones may grow it; cloud-init grows the root file system."
  default     = null
}

variable "timezone" {
  type        = string
  description = "Time zone of the image."
  default     = "UTC"
}

variable "oscap_audit" {
  type        = bool
  description = "Run an OpenSCAP audit (evaluation only, no remediation) and keep its report in the image. See scripts/hardening-oscap.sh."
  default     = false
}

variable "tenant" {
  type        = string
  description = "Stack context (global var of every stack); used in the template's tags."
  default     = ""
}

variable "stage" {
  type        = string
  description = "Stack context (global var of every stack); used in the template's tags."
  default     = ""
}
