#!/usr/bin/env bash
# Quick start: build, start mock-cloud, `terraform apply` the quick-start configuration with
# the provider built from this tree, show the outputs, stop mock-cloud.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

echo "==> building (cargo build --workspace --bins)"
cargo build --workspace --bins --locked
bin="$root/target/debug"

terraform="$("$root/scripts/install-terraform.sh")"
echo "==> Terraform: $("$terraform" version | head -n 1)"

work="$root/.quickstart"
mkdir -p "$work"
echo "==> starting mock-cloud (data in .quickstart/mock-cloud)"
"$bin/mock-cloud" --listen 127.0.0.1:0 --data-dir "$work/mock-cloud" > "$work/mock-cloud.log" 2>&1 &
mock_pid=$!
trap 'kill "$mock_pid" 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 600); do
  url="$(sed -n 's/^listening on //p' "$work/mock-cloud.log" | head -n 1)"
  [ -n "$url" ] && break
  kill -0 "$mock_pid" 2>/dev/null || { cat "$work/mock-cloud.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "mock-cloud did not start" >&2; exit 1; }
echo "==> mock-cloud at $url"

# What a real account would show: an IAM token, then the Hyper Protect images in the region.
token="$(curl -fsS -X POST "$url/identity/token" \
  -d 'grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=quickstart' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
images="$(curl -fsS -H "Authorization: Bearer $token" \
  "$url/v1/images?version=2026-03-24&generation=2&limit=100" |
  python3 -c 'import json,sys
imgs = [i for i in json.load(sys.stdin)["images"] if i["operating_system"]["name"].endswith("-hpcr")]
print("{" + ", ".join("%s = %s" % (json.dumps(i["name"]), json.dumps(i["status"])) for i in imgs) + "}")')"

cat > "$work/terraformrc" <<RC
provider_installation {
  dev_overrides {
    "registry.terraform.io/hyperprotect/hyperprotect" = "$bin"
  }
  direct {}
}
RC
export TF_CLI_CONFIG_FILE="$work/terraformrc" CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
cd "$root/examples/quickstart"
echo "==> terraform apply"
"$terraform" apply -auto-approve -input=false \
  -var "mock_cloud_url=$url" -var "hpcr_images=$images" -state="$work/terraform.tfstate"
echo "==> terraform output"
"$terraform" output -state="$work/terraform.tfstate"
