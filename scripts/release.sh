#!/usr/bin/env bash
# Builds the release binary and lays out what a Terraform registry or filesystem mirror serves,
# in dist/ (ignored by git):
#   terraform-provider-hyperprotect_<version>_linux_amd64.zip
#   terraform-provider-hyperprotect_<version>_SHA256SUMS   (+ .sig when GPG_KEY_ID is set)
#   terraform-provider-hyperprotect_<version>_manifest.json and terraform-registry-manifest.json
# The version comes from provider/Cargo.toml. Installing it: docs/installing.md.
#
# Usage: scripts/release.sh [--out DIR] [--mirror DIR] [--binary PATH]
#   --out DIR      where to write the files (default: dist/)
#   --mirror DIR   also copy the zip into DIR in the packed filesystem-mirror layout
#                  (DIR/registry.terraform.io/hyperprotect/hyperprotect/<zip>)
#   --binary PATH  lay out this already-built binary instead of running the release build
#                  (the acceptance test lays out the debug binary of its own build this way)
set -Eeuo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
caller="$PWD"
cd "$root"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

# Paths given on the command line are relative to where the script was started.
from_caller() { case "$1" in /*) echo "$1" ;; *) echo "$caller/$1" ;; esac; }

out="$root/dist"
mirror=""
binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$(from_caller "$2")"; shift 2 ;;
    --mirror) mirror="$(from_caller "$2")"; shift 2 ;;
    --binary) binary="$(from_caller "$2")"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done

step "reading the provider version from provider/Cargo.toml"
version="$(provider_version)"
echo "version $version" >&2

if [ -z "$binary" ]; then
  step "building the release binary (cargo build --release)"
  cargo build --release --locked -p terraform-provider-hyperprotect --bin terraform-provider-hyperprotect
  binary="$(cargo_target_dir)/release/terraform-provider-hyperprotect"
fi

step "laying out $binary into $out"
python3 "$root/scripts/release-layout.py" "$binary" "$version" "$out" ${mirror:+"$mirror"}

if [ -n "${GPG_KEY_ID:-}" ]; then
  step "signing the SHA256SUMS with GPG key $GPG_KEY_ID"
  sums="$out/terraform-provider-hyperprotect_${version}_SHA256SUMS"
  gpg --batch --yes --local-user "$GPG_KEY_ID" --output "$sums.sig" --detach-sign "$sums"
  echo "$sums.sig"
fi
