output "vm_id" {
  value       = proxmox_virtual_environment_vm.k3s_node.vm_id
  description = "Proxmox VM id of the k3s node."
}

output "vm_ip" {
  value       = var.vm_ip
  description = "Static address of the k3s node with prefix length."
}

output "vm_name" {
  value       = proxmox_virtual_environment_vm.k3s_node.name
  description = "VM name and hostname."
}

output "template_vm_id" {
  value       = proxmox_virtual_environment_vm.k3s_node.clone[0].vm_id
  description = "VM id of the template the node was cloned from."
}

output "ssh_command" {
  value       = "ssh ${var.ci_user}@${local.vm_address}"
  description = "Command to log in to the node."
}

output "kubeconfig_path" {
  value       = local.kubeconfig_path
  description = "Where kubeconfig_command writes the cluster's kubeconfig (the workflows use the same path)."
}

output "kubeconfig_command" {
  value       = "mkdir -p .kube && ssh ${var.ci_user}@${local.vm_address} sudo cat /etc/rancher/k3s/k3s.yaml | sed 's#https://127.0.0.1:6443#https://${local.vm_address}:6443#' > ${local.kubeconfig_path} && chmod 600 ${local.kubeconfig_path}"
  description = "Command to retrieve the kubeconfig: reads k3s.yaml over SSH and points it at the node's address."
}
