#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (policy in deny.toml): licences, banned and
# duplicate crates, and crate sources. These work offline. With --advisories it also checks
# the RustSec advisory database, which needs the network (github.com). Installs cargo-deny
# from crates.io when it is missing. Not part of scripts/test.sh (installing it takes
# minutes of CI time).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

checks=(licenses bans sources)
if [[ "${1:-}" == "--advisories" ]]; then
    checks+=(advisories)
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--advisories]" >&2
    exit 2
fi

if ! cargo deny --version >/dev/null 2>&1; then
    echo "Installing cargo-deny from crates.io..."
    cargo install cargo-deny --locked
fi
echo "$(cargo deny --version)"

cargo deny --locked --all-features check "${checks[@]}"
