#!/usr/bin/env bash
# Runs every test: formatting and lints, unit and property tests, the openssl-CLI interop
# tests, the mock-cloud tests and the acceptance tests that drive the real Terraform CLI.
#
# Builds once. The whole workspace's tests run with Terraform 1.0.3 (the oldest we support);
# then the already built acceptance tests (`test_acc_*`) run again with Terraform 1.15.5, so
# every acceptance test passes on both (tests gate newer features on the version). A user's own
# binary (TF_ACC_TERRAFORM_PATH) replaces both runs with one run on that binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export TF_ACC=1 CHECKPOINT_DISABLE=1

if [ -n "${TF_ACC_TERRAFORM_PATH:-}" ]; then
  terraforms=("$("$root/scripts/install-terraform.sh")")
else
  terraforms=("$("$root/scripts/install-terraform.sh")" "$("$root/scripts/install-terraform-1.15.sh")")
fi
version_of() { local v; v="$("$1" version 2>/dev/null)"; echo "${v%%$'\n'*}"; }
for tf in "${terraforms[@]}"; do
  echo "Terraform: $(version_of "$tf") ($tf)"
done

# Independent judges (isoinfo, xorriso, pycdlib, virt-xml-validate) for the cidata tests.
"$root/scripts/install-cidata-tools.sh"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

status=0
TF_ACC_TERRAFORM_PATH="${terraforms[0]}" cargo test --workspace --locked --no-fail-fast "$@" || status=$?
for tf in "${terraforms[@]:1}"; do
  echo "=== acceptance tests (test_acc_*) again with $(version_of "$tf") ==="
  TF_ACC_TERRAFORM_PATH="$tf" cargo test --workspace --locked --no-fail-fast "$@" -- test_acc_ ||
    status=$?
done
exit "$status"
