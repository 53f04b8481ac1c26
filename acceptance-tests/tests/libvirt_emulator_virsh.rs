//! mock-cloud's KVM host judged by Debian's `virsh`: if the real libvirt client can list,
//! inspect, define, start, stop, list and transfer volumes and attach to a console on
//! the emulated host, the emulator speaks libvirt's remote protocol as libvirtd does.

mod libvirt_support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acceptance_tests::mock_cloud::libvirt::host::SEED_IMAGE;
use acceptance_tests::mock_cloud::libvirt::LibvirtHost;
use libvirt_support::{
    guest_xml, iso_with, libvirt_tools_available, virsh, virsh_ok, vol_download,
};

fn guest(boot: &str) -> String {
    guest_xml("hpcr-guest", 4096, &[boot], None)
}

/// Runs `session(uri, scratch_dir)` (blocking: virsh) against a fresh emulated host, when
/// the libvirt tools are available.
async fn with_virsh(session: impl FnOnce(String, &Path) + Send + 'static) {
    if !libvirt_tools_available() {
        return;
    }
    let kvm = LibvirtHost::start("127.0.0.1:0".parse().unwrap(), false, None, None)
        .await
        .expect("start the KVM host");
    let uri = kvm.uri();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        session(uri, dir.path())
    })
    .await
    .expect("virsh session");
}

/// Starts the mock-cloud binary on `data_dir` with a KVM host; its libvirt URI, read
/// from the second stdout line.
fn spawn_mock_cloud(data_dir: &Path) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mock-cloud"))
        .args(["--no-pki", "--libvirt-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start mock-cloud");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(first.starts_with("listening on http://"), "{first}");
    let second = lines.next().unwrap().unwrap();
    let re =
        regex::Regex::new(r"^libvirt listening on (qemu\+tcp://127\.0\.0\.1:\d+/system)$").unwrap();
    let uri = re
        .captures(&second)
        .unwrap_or_else(|| panic!("unexpected line {second:?}"))[1]
        .to_string();
    (child, uri)
}

#[test]
fn mock_cloud_binary_serves_libvirt_and_keeps_the_host_across_a_kill() {
    if !libvirt_tools_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, uri) = spawn_mock_cloud(&data);
    let out = virsh_ok(&uri, &["list", "--all"]);
    assert!(
        out.contains("Id") && out.contains("Name") && out.contains("State"),
        "{out}"
    );
    let pools = virsh_ok(&uri, &["vol-list", "default"]);
    assert!(pools.contains(SEED_IMAGE), "{pools}");

    // A running guest with its own boot clone, and an uploaded volume.
    virsh_ok(
        &uri,
        &[
            "vol-clone",
            "--pool",
            "default",
            SEED_IMAGE,
            "hpcr-guest-boot.qcow2",
        ],
    );
    let xml_path = dir.path().join("guest.xml");
    std::fs::write(&xml_path, guest("hpcr-guest-boot.qcow2")).unwrap();
    virsh_ok(&uri, &["define", xml_path.to_str().unwrap()]);
    virsh_ok(&uri, &["start", "hpcr-guest"]);
    let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
    let src = dir.path().join("cidata.iso");
    std::fs::write(&src, &payload).unwrap();
    virsh_ok(&uri, &["vol-create-as", "default", "cidata.iso", "100000"]);
    virsh_ok(
        &uri,
        &[
            "vol-upload",
            "--pool",
            "default",
            "cidata.iso",
            src.to_str().unwrap(),
        ],
    );
    let uuid = virsh_ok(&uri, &["domuuid", "hpcr-guest"]);
    let leases = virsh_ok(&uri, &["net-dhcp-leases", "default"]);

    // SIGKILL, then a new process on the same data directory.
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, uri) = spawn_mock_cloud(&data);
    assert_eq!(virsh_ok(&uri, &["domuuid", "hpcr-guest"]), uuid);
    assert_eq!(
        virsh_ok(&uri, &["domstate", "hpcr-guest"]).trim(),
        "running"
    );
    assert_eq!(virsh_ok(&uri, &["net-dhcp-leases", "default"]), leases);
    let back = dir.path().join("back.iso");
    vol_download(&uri, "cidata.iso", &back);
    assert_eq!(std::fs::read(&back).unwrap(), payload);
    let vols = virsh_ok(&uri, &["vol-list", "default"]);
    assert!(
        vols.contains("hpcr-guest-boot.qcow2") && vols.contains(SEED_IMAGE),
        "{vols}"
    );
    // And deletions persist too.
    virsh_ok(&uri, &["destroy", "hpcr-guest"]);
    virsh_ok(&uri, &["undefine", "hpcr-guest"]);
    virsh_ok(&uri, &["vol-delete", "--pool", "default", "cidata.iso"]);
    child.kill().unwrap();
    child.wait().unwrap();
    let (mut child, uri) = spawn_mock_cloud(&data);
    assert!(!virsh_ok(&uri, &["list", "--all"]).contains("hpcr-guest"));
    assert!(!virsh_ok(&uri, &["vol-list", "default"]).contains("cidata.iso"));
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virsh_defines_starts_lists_inspects_and_removes_a_guest() {
    with_virsh(|uri, dir| {
        // The guest XML is valid by libvirt's own schema.
        let xml_path = dir.join("guest.xml");
        std::fs::write(&xml_path, guest("hpcr-guest-boot.qcow2")).unwrap();
        let v = Command::new("virt-xml-validate")
            .arg(&xml_path)
            .arg("domain")
            .output()
            .unwrap();
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));

        // Host: an IBM Z with Secure Execution.
        let caps = virsh_ok(&uri, &["domcapabilities"]);
        assert!(caps.contains("<s390-pv supported='yes'/>"), "{caps}");
        assert!(virsh_ok(&uri, &["capabilities"]).contains("<arch>s390x</arch>"));

        // The boot volume is the guest's own clone of the seeded image.
        virsh_ok(
            &uri,
            &[
                "vol-clone",
                "--pool",
                "default",
                SEED_IMAGE,
                "hpcr-guest-boot.qcow2",
            ],
        );
        virsh_ok(
            &uri,
            &[
                "vol-create-as",
                "default",
                "hpcr-guest-console.log",
                "0",
                "--format",
                "raw",
            ],
        );

        virsh_ok(&uri, &["define", xml_path.to_str().unwrap()]);
        let list = virsh_ok(&uri, &["list", "--all"]);
        assert!(
            list.lines()
                .any(|l| l.contains("hpcr-guest") && l.contains("shut off")),
            "{list}"
        );
        virsh_ok(&uri, &["start", "hpcr-guest"]);
        let list = virsh_ok(&uri, &["list"]);
        let row = list
            .lines()
            .find(|l| l.contains("hpcr-guest"))
            .unwrap_or_else(|| panic!("{list}"));
        assert!(row.contains("running"), "{row}");
        assert!(
            row.trim_start().starts_with(|c: char| c.is_ascii_digit()),
            "running guests have an id: {row}"
        );

        let info = virsh_ok(&uri, &["dominfo", "hpcr-guest"]);
        for want in [
            "Name:           hpcr-guest",
            "OS Type:        hvm",
            "State:          running",
            "CPU(s):         2",
            "Max memory:     4194304 KiB",
            "Persistent:     yes",
        ] {
            assert!(info.contains(want), "missing {want:?} in\n{info}");
        }
        let uuid = virsh_ok(&uri, &["domuuid", "hpcr-guest"]);
        assert!(info.contains(uuid.trim()), "{info}");

        let xml = virsh_ok(&uri, &["dumpxml", "hpcr-guest"]);
        assert!(xml.contains("<launchSecurity type='s390-pv'/>"), "{xml}");
        assert!(
            xml.contains(&format!("<uuid>{}</uuid>", uuid.trim())),
            "{xml}"
        );
        assert!(
            xml.contains("<mac address='52:54:00:"),
            "libvirt assigns a MAC: {xml}"
        );
        // What dumpxml shows is valid domain XML too.
        let dumped = dir.join("dumped.xml");
        std::fs::write(&dumped, &xml).unwrap();
        let v = Command::new("virt-xml-validate")
            .arg(&dumped)
            .arg("domain")
            .output()
            .unwrap();
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));

        // A lease on the default network, seen through virsh.
        let leases = virsh_ok(&uri, &["net-dhcp-leases", "default"]);
        assert!(
            leases.contains("192.168.122.") && leases.contains("hpcr-guest"),
            "{leases}"
        );
        let addrs = virsh_ok(&uri, &["domifaddr", "hpcr-guest"]);
        assert!(addrs.contains("192.168.122."), "{addrs}");

        // The console log volume holds what the guest printed.
        let log = dir.join("console.log");
        vol_download(&uri, "hpcr-guest-console.log", &log);
        let text = std::fs::read_to_string(&log).unwrap();
        assert!(text.contains("guest hpcr-guest started"), "{text}");

        // Errors carry libvirt's messages.
        let out = virsh(&uri, &["start", "hpcr-guest"]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("already active"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = virsh(&uri, &["dominfo", "no-such-guest"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-guest"));

        virsh_ok(&uri, &["shutdown", "hpcr-guest"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while virsh_ok(&uri, &["domstate", "hpcr-guest"]).trim() != "shut off" {
            assert!(
                Instant::now() < deadline,
                "graceful shutdown never completed"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        virsh_ok(&uri, &["start", "hpcr-guest"]);
        virsh_ok(&uri, &["destroy", "hpcr-guest"]);
        assert_eq!(
            virsh_ok(&uri, &["domstate", "hpcr-guest"]).trim(),
            "shut off"
        );
        virsh_ok(&uri, &["undefine", "hpcr-guest"]);
        assert!(!virsh_ok(&uri, &["list", "--all"]).contains("hpcr-guest"));
        virsh_ok(
            &uri,
            &["vol-delete", "--pool", "default", "hpcr-guest-boot.qcow2"],
        );
        virsh_ok(
            &uri,
            &["vol-delete", "--pool", "default", "hpcr-guest-console.log"],
        );
        let vols = virsh_ok(&uri, &["vol-list", "default"]);
        assert!(!vols.contains("hpcr-guest"), "{vols}");
        assert!(vols.contains(SEED_IMAGE), "{vols}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virsh_uploads_and_downloads_volumes() {
    with_virsh(|uri, dir| {
        // The seeded image downloads as a qcow2 file.
        let image = dir.join("image.qcow2");
        vol_download(&uri, SEED_IMAGE, &image);
        let bytes = std::fs::read(&image).unwrap();
        assert_eq!(&bytes[..4], b"QFI\xfb");

        // Upload more than one stream packet (256 KiB) and read it back byte for byte.
        let payload: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        let src = dir.join("cidata.iso");
        std::fs::write(&src, &payload).unwrap();
        virsh_ok(
            &uri,
            &[
                "vol-create-as",
                "default",
                "cidata.iso",
                "700000",
                "--format",
                "raw",
            ],
        );
        virsh_ok(
            &uri,
            &[
                "vol-upload",
                "--pool",
                "default",
                "cidata.iso",
                src.to_str().unwrap(),
            ],
        );
        let back = dir.join("back.iso");
        vol_download(&uri, "cidata.iso", &back);
        assert_eq!(std::fs::read(&back).unwrap(), payload);
        let info = virsh_ok(&uri, &["vol-info", "--pool", "default", "cidata.iso"]);
        assert!(info.contains("Name:           cidata.iso"), "{info}");

        // Ranges: --offset/--length.
        let part = dir.join("part");
        virsh_ok(
            &uri,
            &[
                "vol-download",
                "--pool",
                "default",
                "cidata.iso",
                part.to_str().unwrap(),
                "--offset",
                "1000",
                "--length",
                "300000",
            ],
        );
        assert_eq!(
            std::fs::read(&part).unwrap(),
            payload[1000..301_000].to_vec()
        );

        let out = virsh(
            &uri,
            &[
                "vol-download",
                "--pool",
                "default",
                "missing.iso",
                part.to_str().unwrap(),
            ],
        );
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("missing.iso"));
    })
    .await;
}

/// Collects a child's output in the background.
fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

fn wait_for(buf: &Arc<Mutex<Vec<u8>>>, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = String::from_utf8_lossy(&buf.lock().unwrap()).into_owned();
        if text.contains(needle) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never saw {needle:?}; got {text:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virsh_console_attaches_to_a_running_guest() {
    with_virsh(|uri, dir| {
        let xml_path = dir.join("guest.xml");
        std::fs::write(&xml_path, guest(SEED_IMAGE)).unwrap();
        virsh_ok(&uri, &["define", xml_path.to_str().unwrap()]);
        virsh_ok(&uri, &["start", "hpcr-guest"]);
        // No log volume was created beforehand: QEMU creates the log file in the pool.
        let log = vol_download(&uri, "hpcr-guest-console.log", &dir.join("log"));
        assert!(String::from_utf8_lossy(&log).contains("hpcr-guest"));

        // virsh console needs a terminal: `script` gives it one.
        let mut child = Command::new("script")
            .args([
                "-qefc",
                &format!("virsh -c {uri} console hpcr-guest --force"),
                "/dev/null",
            ])
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script");
        let out = collect(child.stdout.take().unwrap());
        let _err = collect(child.stderr.take().unwrap());
        wait_for(&out, "Escape character");
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"hello-console\r").unwrap();
        stdin.flush().unwrap();
        // The guest's terminal echoes what was typed.
        wait_for(&out, "hello-console");
        // Ctrl+] ends the session.
        stdin.write_all(&[0x1d]).unwrap();
        stdin.flush().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(status.success(), "virsh console exited with {status}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "virsh console did not exit on Ctrl+]"
            );
            std::thread::sleep(Duration::from_millis(50));
        }

        // A stopped guest has no console.
        virsh_ok(&uri, &["destroy", "hpcr-guest"]);
        let o = virsh(&uri, &["console", "hpcr-guest"]);
        assert!(!o.status.success());
    })
    .await;
}

#[test]
fn the_emulator_reads_cidata_disks_as_genisoimage_writes_them() {
    use acceptance_tests::mock_cloud::libvirt::iso::read_cidata;
    if !libvirt_tools_available() {
        return;
    }
    let user_data = "workload: hyper-protect-basic.x\n".repeat(200);
    for names in [
        &["-joliet", "-rock"][..],
        &["-rock"],
        &["-joliet"],
        &["-J", "-R", "-input-charset", "utf-8"],
    ] {
        let files = read_cidata(&iso_with(&user_data, "cidata", names)).unwrap();
        assert_eq!(files["user-data"], user_data.as_bytes(), "{names:?}");
        assert!(
            files.contains_key("meta-data"),
            "{names:?}: {:?}",
            files.keys()
        );
    }
    // cloud-init's NoCloud source accepts the label in either case, and only that label.
    assert!(read_cidata(&iso_with(&user_data, "CIDATA", &["-rock"])).is_ok());
    let err = read_cidata(&iso_with(&user_data, "config-2", &["-rock"])).unwrap_err();
    assert!(err.contains("config-2"), "{err}");
    assert!(read_cidata(b"not an iso").is_err());
    assert!(read_cidata(&vec![0u8; 40 * 2048]).is_err());
}
