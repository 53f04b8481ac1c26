#!/usr/bin/env bash
# Runs every test: formatting and lints, unit and property tests, the openssl-CLI interop
# tests, the mock-cloud tests and the acceptance tests that drive the real Terraform CLI.
# Builds once: one `cargo test` for the whole workspace (clippy before it only type-checks).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

TF_ACC_TERRAFORM_PATH="$("$root/scripts/install-terraform.sh")"
export TF_ACC_TERRAFORM_PATH
export TF_ACC=1
echo "Terraform: $("$TF_ACC_TERRAFORM_PATH" version | head -n 1) ($TF_ACC_TERRAFORM_PATH)"

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast "$@"
