#!/usr/bin/env bash
# OpenSCAP hardening, as a stub for remediation and a real, opt-in audit.
#
# What full hardening would apply: the CIS Server Level 1 profile of the SCAP Security Guide for
# AlmaLinux 9 (ssg-almalinux9-ds.xml), remediated with
#   oscap xccdf eval --remediate --profile xccdf_org.ssgproject.content_profile_cis_server_l1 \
#     --tailoring-file <tailoring.xml> /usr/share/xml/scap/ssg/content/ssg-almalinux9-ds.xml
# It covers password and login policy, auditd rules, SSH daemon settings, kernel sysctls, mount options
# and removal of unneeded services.
#
# Why remediation stays a stub: the untailored profile breaks k3s. It turns off IP forwarding
# (net.ipv4.ip_forward=0), which pod networking needs, and its firewall and kernel-module rules can block
# flannel's VXLAN traffic. Remediation needs a tailoring file written and tested against this cluster
# first; this repository does not ship one.
#
# What runs now: with OSCAP_AUDIT=true (Packer variable oscap_audit) the profile is evaluated without
# changing anything and the HTML report is kept in the image under /var/log/oscap/.
set -euo pipefail

if [ "${OSCAP_AUDIT:-false}" != "true" ]; then
  echo "OpenSCAP: audit disabled (set the Packer variable oscap_audit = true to evaluate the CIS profile)"
  exit 0
fi

dnf -y install openscap-scanner scap-security-guide
content=/usr/share/xml/scap/ssg/content/ssg-almalinux9-ds.xml
install -d -m 0750 /var/log/oscap
# oscap exits 2 when rules fail, which is the expected outcome of an audit; any other non-zero is an error.
status=0
oscap xccdf eval \
  --profile xccdf_org.ssgproject.content_profile_cis_server_l1 \
  --results /var/log/oscap/results.xml \
  --report /var/log/oscap/report.html \
  "$content" || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then
  echo "OpenSCAP: evaluation failed with exit code $status" >&2
  exit "$status"
fi
echo "OpenSCAP: audit report written to /var/log/oscap/report.html (no remediation applied)"
