#!/usr/bin/env bash
# Installs the independent judges the cidata and KVM example tests use, when missing:
# - Debian `genisoimage` (isoinfo) and `xorriso`: read the cloud-init disks the provider writes;
# - Debian `libvirt-clients` + `libxml2-utils`: `virt-xml-validate` checks the example's
#   libvirt domain XML against libvirt's schemas;
# - PyPI `pycdlib`: a third, pure-Python ISO 9660 reader.
# Idempotent; apt-get needs root (as in CI). Where a tool cannot be installed it says which,
# and the tests that need it fail under CI=true (and skip, saying so, elsewhere).
set -euo pipefail

missing_debs=()
command -v isoinfo >/dev/null 2>&1 || missing_debs+=(genisoimage)
command -v xorriso >/dev/null 2>&1 || missing_debs+=(xorriso)
command -v virt-xml-validate >/dev/null 2>&1 || missing_debs+=(libvirt-clients)
command -v xmllint >/dev/null 2>&1 || missing_debs+=(libxml2-utils)

if [ "${#missing_debs[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing_debs[*]}" >&2
    apt-get update -qq >&2 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing_debs[@]}" >&2 ||
      echo "could not install Debian packages: ${missing_debs[*]} (the tests using them will fail under CI)" >&2
  else
    echo "missing Debian packages: ${missing_debs[*]}; install them as root" \
      "(apt-get install ${missing_debs[*]}), or the tests using them skip (and fail under CI)" >&2
  fi
fi

if ! python3 -c 'import pycdlib' >/dev/null 2>&1; then
  echo "installing pycdlib from PyPI" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    "pycdlib==1.22.0" >&2 ||
    echo "could not install pycdlib (python3 -m pip install pycdlib); the tests using it will fail under CI" >&2
fi
