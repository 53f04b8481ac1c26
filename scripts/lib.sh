# Helpers shared by the scripts in this folder (sourced, not run).
#
# - `step NAME`: announces a step; if the script then fails, the error trap names that step.
# - `cargo_target_dir`: where cargo puts build output, honouring CARGO_TARGET_DIR and any
#   cargo configuration (asks cargo, so it never guesses `target/`).
# - `provider_version`: the provider's version, from provider/Cargo.toml (via cargo).

current_step="start"
# Command substitutions fail like the commands in them (a failed `x="$(...)"` stops the script).
shopt -s inherit_errexit

step() {
  current_step="$1"
  printf '==> %s\n' "$1" >&2
}

on_failure() {
  local code=$?
  # Subshells (command substitutions) inherit the trap: report once, from the script itself.
  [ "$BASHPID" = "$$" ] || exit "$code"
  printf '\nFAILED (exit %s) at step: %s\n' "$code" "$current_step" >&2
  exit "$code"
}
trap on_failure ERR

# Prints one field of `cargo metadata` for the workspace (no dependency resolution, no network).
cargo_metadata_field() {
  cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
    python3 -c "$1"
}

cargo_target_dir() {
  cargo_metadata_field 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

provider_version() {
  cargo_metadata_field 'import json, sys
packages = json.load(sys.stdin)["packages"]
print(next(p["version"] for p in packages if p["name"] == "terraform-provider-hyperprotect"))'
}
