#!/usr/bin/env python3
"""Lays out one provider binary the way a Terraform registry or mirror serves it.

Usage: release-layout.py BINARY VERSION OUT_DIR [MIRROR_DIR]

Writes into OUT_DIR:
  terraform-provider-hyperprotect_<version>_<os>_<arch>.zip  the binary, named
      terraform-provider-hyperprotect_v<version>, mode 0755, fixed timestamp (reproducible:
      the same binary always gives the same zip, hence the same zh: hash)
  terraform-provider-hyperprotect_<version>_manifest.json    the registry manifest
      (protocol 6.0), under the name the Terraform Registry reads from a release
  terraform-registry-manifest.json                           the same manifest
  terraform-provider-hyperprotect_<version>_SHA256SUMS       sha256 of the zip and manifest

With MIRROR_DIR, also copies the zip into MIRROR_DIR in the packed filesystem-mirror layout
(HOSTNAME/NAMESPACE/TYPE/terraform-provider-TYPE_VERSION_OS_ARCH.zip).

Only the standard library: a fresh machine has python3 but maybe no `zip`.
"""

import hashlib
import json
import os
import re
import shutil
import sys
import zipfile

NAME = "terraform-provider-hyperprotect"
ADDRESS = ("registry.terraform.io", "hyperprotect", "hyperprotect")
MANIFEST = {"version": 1, "metadata": {"protocol_versions": ["6.0"]}}
# ELF e_machine values of the architectures Terraform publishes for Linux.
ELF_ARCH = {0x3E: "amd64", 0xB7: "arm64", 0x03: "386", 0x28: "arm"}
# Zip timestamps start in 1980; a fixed one keeps the archive reproducible.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def fail(message):
    print(f"release-layout: {message}", file=sys.stderr)
    sys.exit(1)


def platform_of(binary):
    """linux_<arch> of an ELF executable, from its header (the binary may be cross-built)."""
    with open(binary, "rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != b"\x7fELF":
        fail(f"{binary} is not an ELF (Linux) executable")
    order = "little" if header[5] == 1 else "big"
    machine = int.from_bytes(header[18:20], order)
    if machine not in ELF_ARCH:
        fail(f"{binary}: unknown ELF machine {machine:#x}")
    return f"linux_{ELF_ARCH[machine]}"


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_zip(binary, version, path):
    entry = zipfile.ZipInfo(f"{NAME}_v{version}", date_time=FIXED_TIME)
    entry.create_system = 3  # Unix, so unzippers (Terraform's too) apply the mode below
    entry.external_attr = (0o100755 & 0xFFFF) << 16
    entry.compress_type = zipfile.ZIP_DEFLATED
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w") as archive, open(binary, "rb") as src:
        large = os.path.getsize(binary) >= 0x7FFFFFFF  # zip64 headers only when needed
        with archive.open(entry, "w", force_zip64=large) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(tmp, path)


def main(argv):
    if len(argv) not in (4, 5):
        fail("usage: release-layout.py BINARY VERSION OUT_DIR [MIRROR_DIR]")
    binary, version, out = argv[1], argv[2], argv[3]
    mirror = argv[4] if len(argv) == 5 else None
    if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", version):
        fail(f"version {version!r} is not a semantic version")
    if not os.access(binary, os.X_OK):
        fail(f"{binary} is not an executable file")
    platform = platform_of(binary)
    os.makedirs(out, exist_ok=True)

    zip_name = f"{NAME}_{version}_{platform}.zip"
    write_zip(binary, version, os.path.join(out, zip_name))
    manifest_text = json.dumps(MANIFEST, indent=2) + "\n"
    manifest_name = f"{NAME}_{version}_manifest.json"
    for name in (manifest_name, "terraform-registry-manifest.json"):
        with open(os.path.join(out, name), "w") as f:
            f.write(manifest_text)
    sums_name = f"{NAME}_{version}_SHA256SUMS"
    with open(os.path.join(out, sums_name), "w") as f:
        for name in sorted([zip_name, manifest_name]):
            f.write(f"{sha256_file(os.path.join(out, name))}  {name}\n")

    for name in (zip_name, manifest_name, sums_name, "terraform-registry-manifest.json"):
        print(os.path.join(out, name))
    if mirror:
        target = os.path.join(mirror, *ADDRESS)
        os.makedirs(target, exist_ok=True)
        shutil.copyfile(os.path.join(out, zip_name), os.path.join(target, zip_name))
        print(os.path.join(target, zip_name))


if __name__ == "__main__":
    main(sys.argv)
