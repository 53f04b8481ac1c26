//! Shared by the libvirt_* tests: making sure Debian's libvirt tools (the independent
//! judges) are installed, and running `virsh`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Installs virsh/libvirtd when missing (scripts/install-libvirt-tools.sh). `false` means
/// they are unavailable and the test should skip, which it may only do outside CI: under
/// `CI=true` a missing judge fails the test.
pub fn libvirt_tools_available() -> bool {
    // Once per test binary: parallel tests must not race each other into apt-get.
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let script = repo_root().join("scripts/install-libvirt-tools.sh");
    let ok = *INSTALLED.get_or_init(|| {
        Command::new("bash")
            .arg(&script)
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    });
    if ok {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "virsh/libvirtd are missing and {} could not install them",
            script.display()
        );
    }
    eprintln!(
        "SKIPPED: virsh/libvirtd are not installed (see {})",
        script.display()
    );
    false
}

/// Runs `virsh -c URI ARGS…` without a terminal.
pub fn virsh(uri: &str, args: &[&str]) -> Output {
    Command::new("virsh")
        .arg("-c")
        .arg(uri)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("running virsh")
}

/// `virsh` that must succeed; its stdout.
pub fn virsh_ok(uri: &str, args: &[&str]) -> String {
    let out = virsh(uri, args);
    assert!(
        out.status.success(),
        "virsh {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("virsh prints UTF-8")
}

/// `virsh vol-download` of a volume of pool `default` into `to`; the bytes.
pub fn vol_download(uri: &str, volume: &str, to: &Path) -> Vec<u8> {
    let dest = to.to_str().expect("UTF-8 path");
    virsh_ok(uri, &["vol-download", "--pool", "default", volume, dest]);
    std::fs::read(to).expect("the downloaded volume")
}

/// A guest in the shape IBM documents for CCRT on KVM: Secure Execution
/// (`<launchSecurity type='s390-pv'/>`), virtio devices with `iommu='on'`, no memory
/// balloon, an SCLP console logging to `/var/lib/libvirt/images/NAME-console.log`, and
/// the given volumes of pool `default` as disks in order (boot first, then cidata).
pub fn guest_xml(name: &str, memory_mib: u32, volumes: &[&str], mac: Option<&str>) -> String {
    let disks: String = volumes
        .iter()
        .enumerate()
        .map(|(i, vol)| {
            let format = if vol.ends_with(".qcow2") {
                "qcow2"
            } else {
                "raw"
            };
            format!(
                "    <disk type='volume' device='disk'>
      <driver name='qemu' type='{format}' iommu='on'/>
      <source pool='default' volume='{vol}'/>
      <target dev='vd{}' bus='virtio'/>
    </disk>
",
                (b'a' + i as u8) as char
            )
        })
        .collect();
    let mac = mac
        .map(|m| format!("      <mac address='{m}'/>\n"))
        .unwrap_or_default();
    format!(
        "<domain type='kvm'>
  <name>{name}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>2</vcpu>
  <os>
    <type arch='s390x' machine='s390-ccw-virtio'>hvm</type>
  </os>
  <launchSecurity type='s390-pv'/>
  <devices>
{disks}    <interface type='network'>
{mac}      <source network='default'/>
      <model type='virtio'/>
      <driver iommu='on'/>
    </interface>
    <console type='pty'>
      <target type='sclp' port='0'/>
      <log file='/var/lib/libvirt/images/{name}-console.log' append='on'/>
    </console>
    <memballoon model='none'/>
  </devices>
</domain>
"
    )
}

/// A cloud-init `cidata` ISO holding `user-data` (and an empty `meta-data`), built with
/// Debian's `genisoimage` as IBM's CCRT documentation builds it.
pub fn cidata_iso(user_data: &str) -> Vec<u8> {
    iso_with(user_data, "cidata", &["-joliet", "-rock"])
}

/// An ISO like [`cidata_iso`] with the given volume label and genisoimage name options.
pub fn iso_with(user_data: &str, label: &str, names: &[&str]) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("user-data"), user_data).unwrap();
    std::fs::write(dir.path().join("meta-data"), "local-hostname: hpcr-guest\n").unwrap();
    let iso = dir.path().join("cidata.iso");
    let out = Command::new("genisoimage")
        .args(["-quiet", "-output"])
        .arg(&iso)
        .args(["-volid", label])
        .args(names)
        .args(["user-data", "meta-data"])
        .current_dir(dir.path())
        .output()
        .expect("running genisoimage");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(iso).unwrap()
}
