#!/usr/bin/env bash
# Benchmark of hyperprotect_instance: 50 instances with -parallelism=10 against mock-cloud at
# its default timeline, then their destroy (wall time vs. floor, VPC calls per instance,
# provider peak RSS, where the destroy's time goes). See BENCHMARKS.md.
# Settings: FLEET_N, FLEET_PARALLELISM; PROFILE=release (default: the build users install,
# like scripts/bench-contracts.sh) or PROFILE=debug (the build the acceptance tests run).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${TF_ACC_TERRAFORM_PATH:-}" ]; then
  TF_ACC_TERRAFORM_PATH="$(scripts/install-terraform.sh)"
  export TF_ACC_TERRAFORM_PATH
fi
PROFILE=${PROFILE:-release}
case $PROFILE in
  debug) flags=() ;;
  release) flags=(--release) ;;
  *) echo "PROFILE must be debug or release, not $PROFILE" >&2; exit 2 ;;
esac
cargo build -q "${flags[@]}" -p terraform-provider-hyperprotect --bin terraform-provider-hyperprotect
cargo build -q "${flags[@]}" -p acceptance-tests --bin mock-cloud --example instance_fleet
exec "target/$PROFILE/examples/instance_fleet"
