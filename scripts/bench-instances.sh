#!/usr/bin/env bash
# Benchmark of hyperprotect_instance: 50 instances with -parallelism=10 against mock-cloud at
# its default timeline, then their destroy (wall time vs. floor, VPC calls per instance,
# provider peak RSS). See BENCHMARKS.md. Settings: FLEET_N, FLEET_PARALLELISM.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TF_ACC_TERRAFORM_PATH:-}" ]; then
  TF_ACC_TERRAFORM_PATH="$(scripts/install-terraform.sh)"
  export TF_ACC_TERRAFORM_PATH
fi
# Debug builds, like the acceptance tests: the provider spends this benchmark waiting.
cargo build -q -p terraform-provider-hyperprotect --bin terraform-provider-hyperprotect
cargo build -q -p acceptance-tests --bin mock-cloud --example instance_fleet
exec target/debug/examples/instance_fleet
