#!/usr/bin/env bash
# Installs the libvirt tools the KVM tests use as independent judges, when missing:
# Debian's `virsh` and `virt-xml-validate` (libvirt-clients), the real `libvirtd`
# (libvirt-daemon, whose built-in test:///default driver our client is checked against)
# and `genisoimage` (cidata disks for the emulated KVM host's Hyper Protect boot).
# Idempotent: does nothing when they are present. Needs root (apt-get) otherwise, and
# says what is missing when it cannot install. The provider itself never needs these.
#
# Usage: scripts/install-libvirt-tools.sh   (exit 0 when virsh and libvirtd are usable)
set -euo pipefail

missing=()
command -v virsh >/dev/null 2>&1 || missing+=(libvirt-clients)
command -v virt-xml-validate >/dev/null 2>&1 || missing+=(libvirt-clients)
command -v libvirtd >/dev/null 2>&1 || [ -x /usr/sbin/libvirtd ] || missing+=(libvirt-daemon)
command -v genisoimage >/dev/null 2>&1 || missing+=(genisoimage)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
# One of each.
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-libvirt-tools: missing ${packages[*]} (Debian packages); install them as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${packages[*]}" >&2
  exit 1
fi
# One installer at a time (test binaries may call this at once); then look again.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/hyperprotect-install-libvirt-tools.lock"
  flock 9
  if command -v virsh >/dev/null 2>&1 && command -v virt-xml-validate >/dev/null 2>&1 &&
    command -v genisoimage >/dev/null 2>&1 &&
    { command -v libvirtd >/dev/null 2>&1 || [ -x /usr/sbin/libvirtd ]; }; then
    exit 0
  fi
fi
echo "install-libvirt-tools: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${packages[@]}" >&2
