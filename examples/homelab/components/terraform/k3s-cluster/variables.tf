# Inputs of the k3s-cluster component. strata (like Atmos) passes the stack's vars for this component
# in a generated *.terraform.tfvars.json; see stacks/catalog/proxmox.yaml and stacks/deploy/*.yaml.

variable "pm_api_url" {
  type        = string
  description = "Proxmox API URL. Both https://host:8006/ and https://host:8006/api2/json are accepted (the stacks share the Packer form)."
}

variable "pm_api_token_id" {
  type        = string
  description = "API token id in the form user@realm!token, for example root@pam!terraform."
}

variable "pm_api_token_secret" {
  type        = string
  description = "Secret of the API token. Null lets the provider read the whole token from PROXMOX_VE_API_TOKEN instead."
  sensitive   = true
  default     = null
}

variable "pm_tls_insecure" {
  type        = bool
  description = "Skip verification of the Proxmox API certificate (self-signed on a default installation)."
  default     = false
}

variable "vm_name" {
  type        = string
  description = "VM name and hostname."
}

variable "vm_image" {
  type        = string
  description = "Key in images whose template to clone, for example alma9-k3s (built by the Packer component alma9-k3s-optimized)."
  default     = null
}

variable "vm_template" {
  type        = string
  description = "Name of the Proxmox template to clone; overrides vm_image."
  default     = null
}

variable "vm_node" {
  type        = string
  description = "Proxmox node that holds the template and runs the VM."
}

variable "vm_storage" {
  type        = string
  description = "Storage pool for the VM's disks and its cloud-init drive."
}

variable "vm_bridge" {
  type        = string
  description = "Network bridge of the VM's interface."
}

variable "vm_preset" {
  type        = string
  description = "Key in presets that sizes the VM (cores, memory, disk); vm_cores, vm_memory and vm_disk_size override it."
  default     = null
}

variable "vm_cores" {
  type        = number
  description = "CPU cores of the VM; overrides the preset."
  default     = null

  validation {
    condition     = coalesce(var.vm_cores, 1) >= 1
    error_message = "vm_cores must be at least 1."
  }
}

variable "vm_memory" {
  type        = number
  description = "Memory of the VM in MiB; overrides the preset."
  default     = null

  validation {
    condition     = coalesce(var.vm_memory, 2048) >= 2048
    error_message = "vm_memory must be at least 2048 MiB: a k3s server needs 2 GiB to run comfortably."
  }
}

variable "vm_disk_size" {
  type        = string
  description = "System disk size in GiB with a G suffix, for example 32G; overrides the preset. At least the template's disk size."
  default     = null

  validation {
    condition     = var.vm_disk_size == null ? true : can(regex("^[0-9]+G$", var.vm_disk_size))
    error_message = "vm_disk_size must be a whole number of GiB with a G suffix, for example 32G."
  }
}

variable "vm_ip" {
  type        = string
  description = "Static IPv4 address with prefix length, for example 10.23.45.31/24."

  validation {
    condition     = can(cidrhost(var.vm_ip, 0)) && length(split("/", var.vm_ip)) == 2
    error_message = "vm_ip must be an IPv4 address with a prefix length, for example 10.23.45.31/24."
  }
}

variable "vm_gateway" {
  type        = string
  description = "Default gateway."
}

variable "vm_nameserver" {
  type        = string
  description = "DNS server."
}

variable "ci_user" {
  type        = string
  description = "User cloud-init creates on first boot (with passwordless sudo); the SSH key below logs in as it."
}

variable "ci_ssh_pubkey" {
  type        = string
  description = "SSH public key authorised for ci_user."

  validation {
    condition     = !strcontains(var.ci_ssh_pubkey, "CHANGE_ME") && can(regex("^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) ", var.ci_ssh_pubkey))
    error_message = "ci_ssh_pubkey must be your SSH public key (ssh-ed25519 AAAA...); the stack still holds the CHANGE_ME placeholder."
  }
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

variable "images" {
  type        = map(string)
  description = "Images of the stack (vars.images of the catalog): template names, or volume ids that cannot be cloned."
  default     = {}
}

variable "tenant" {
  type        = string
  description = "Stack context (global var of every stack): used in tags and the kubeconfig file name."
  default     = ""
}

variable "stage" {
  type        = string
  description = "Stack context (global var of every stack): used in tags and the kubeconfig file name."
  default     = ""
}
