//! Our libvirt client (provider/src/libvirt) against Debian's real libvirtd: its built-in
//! `test:///default` driver reached through the daemon's UNIX socket (no TCP listener),
//! for every procedure that driver supports: capabilities, domain define / lookup /
//! start / state / info / XML / destroy / undefine, and volume create / clone / info /
//! delete. `virsh` on a second connection is the judge of what our calls changed (the
//! test driver shares `test:///default` between connections of one daemon).

mod libvirt_support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyperprotect::libvirt::{Client, ConnectOptions, DomainState, Error};
use libvirt_support::{libvirt_tools_available, virsh, virsh_ok};

/// One libvirtd at a time, to keep the load (and the port choice) simple.
static ONE_DAEMON: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A private libvirtd on a socket in a temporary directory (and, with TLS, on a loopback
/// port), killed when dropped.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    socket: PathBuf,
    tls_port: Option<u16>,
    _one: std::sync::MutexGuard<'static, ()>,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA in `dir` (`NAME-ca.pem`, `NAME-ca.key`) and a certificate it signs for `cn`
/// with the given extensions (`NAME-cert.pem`, `NAME-key.pem`).
fn issue(dir: &Path, ca: &str, name: &str, cn: &str, ext: &str) {
    if !dir.join(format!("{ca}-ca.pem")).exists() {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-keyout",
                &format!("{ca}-ca.key"),
                "-out",
                &format!("{ca}-ca.pem"),
                "-subj",
                &format!("/CN={ca} test CA"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
    }
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}-key.pem"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}-ca.pem"),
            "-CAkey",
            &format!("{ca}-ca.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-out",
            &format!("{name}-cert.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

/// `nobody`'s uid and gid on Debian.
const NOBODY: u32 = 65534;

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

fn chown_tree(path: &Path, id: u32) {
    std::os::unix::fs::chown(path, Some(id), Some(id)).expect("chown");
    if path.is_dir() {
        for entry in std::fs::read_dir(path).expect("read_dir") {
            chown_tree(&entry.expect("entry").path(), id);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Daemon {
    fn start(tls: bool) -> Daemon {
        let one = ONE_DAEMON.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        let sock_dir = dir.path().join("sock");
        std::fs::create_dir(&sock_dir).expect("sock dir");
        let mut conf = format!(
            "listen_tcp = 0\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
             unix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0700\"\n",
            sock_dir.display()
        );
        let mut tls_port = None;
        if tls {
            let d = dir.path();
            issue(d, "good", "server", "localhost",
                "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n");
            issue(
                d,
                "good",
                "client",
                "hyperprotect-client",
                "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
            );
            issue(
                d,
                "rogue",
                "rogue",
                "rogue-client",
                "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n",
            );
            let port = free_port();
            tls_port = Some(port);
            conf.push_str(&format!(
                "listen_tls = 1\nlisten_addr = \"127.0.0.1\"\ntls_port = \"{port}\"\nauth_tls = \"none\"\n\
                 key_file = \"{k}\"\ncert_file = \"{c}\"\nca_file = \"{ca}\"\n",
                k = d.join("server-key.pem").display(),
                c = d.join("server-cert.pem").display(),
                ca = d.join("good-ca.pem").display(),
            ));
            // libvirt's client PKI layout for ?pkipath=: the good client, and a rogue one
            // whose certificate another CA signed.
            for (pki, cert) in [("pki-good", "client"), ("pki-rogue", "rogue")] {
                let p = d.join(pki);
                std::fs::create_dir(&p).unwrap();
                std::fs::copy(d.join("good-ca.pem"), p.join("cacert.pem")).unwrap();
                std::fs::copy(d.join(format!("{cert}-cert.pem")), p.join("clientcert.pem"))
                    .unwrap();
                std::fs::copy(d.join(format!("{cert}-key.pem")), p.join("clientkey.pem")).unwrap();
            }
        } else {
            conf.push_str("listen_tls = 0\n");
        }
        let conf_path = dir.path().join("libvirtd.conf");
        std::fs::write(&conf_path, conf).expect("write conf");
        let libvirtd = if Path::new("/usr/sbin/libvirtd").exists() {
            "/usr/sbin/libvirtd".to_string()
        } else {
            "libvirtd".to_string()
        };
        // An unprivileged (session-mode) daemon whose configuration and state all live in
        // the temporary directory: it never reads the host's /etc/libvirt (no networks
        // autostarted, no bridges) nor touches /run/libvirt. As root, drop to `nobody`.
        let mut cmd = if is_root() {
            chown_tree(dir.path(), NOBODY);
            let mut c = Command::new("setpriv");
            c.args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
                .arg(libvirtd);
            c
        } else {
            Command::new(libvirtd)
        };
        for (var, sub) in [
            ("HOME", ""),
            ("XDG_RUNTIME_DIR", "run"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_CACHE_HOME", "cache"),
            ("XDG_DATA_HOME", "data"),
        ] {
            cmd.env(var, dir.path().join(sub));
        }
        cmd.arg("--config")
            .arg(&conf_path)
            .arg("--pid-file")
            .arg(dir.path().join("libvirtd.pid"));
        if tls {
            cmd.arg("--listen");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting libvirtd");
        let socket = sock_dir.join("libvirt-sock");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "libvirtd did not create {}",
                socket.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Daemon {
            child,
            dir,
            socket,
            tls_port,
            _one: one,
        }
    }

    fn uri(&self) -> String {
        format!("test+unix:///default?socket={}", self.socket.display())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const DOMAIN_XML: &str = "<domain type='test'>
  <name>hp-guest-1</name>
  <memory unit='MiB'>256</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
</domain>";

async fn connect(daemon: &Daemon) -> Client {
    connect_to(&daemon.uri()).await
}

async fn connect_to(uri: &str) -> Client {
    // Retry briefly: the socket file appears a moment before libvirtd accepts on it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Client::connect(uri, ConnectOptions::default()).await {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                eprintln!("connect: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("connecting to libvirtd: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_drives_real_libvirtd() {
    if !libvirt_tools_available() {
        return;
    }
    let daemon = Daemon::start(false);
    let client = connect(&daemon).await;
    let uri = daemon.uri();

    // Connection-level calls.
    let caps = client.capabilities().await.unwrap();
    assert!(caps.contains("<capabilities>"), "{caps}");

    // Domains: define, look up both ways, start, inspect, destroy, undefine.
    let dom = client.domain_define_xml(DOMAIN_XML).await.unwrap();
    assert_eq!(dom.name, "hp-guest-1");
    assert_eq!(dom.id, -1, "a defined domain has no running id");
    let listed = virsh_ok(&uri, &["list", "--all", "--name"]);
    assert!(listed.lines().any(|l| l == "hp-guest-1"), "{listed}");
    let virsh_uuid = virsh_ok(&uri, &["domuuid", "hp-guest-1"]);
    assert_eq!(virsh_uuid.trim(), dom.uuid.to_string());
    assert_eq!(
        client.domain_lookup_by_name("hp-guest-1").await.unwrap(),
        dom
    );
    assert_eq!(client.domain_lookup_by_uuid(&dom.uuid).await.unwrap(), dom);
    let info = client.domain_get_info(&dom).await.unwrap();
    assert_eq!(info.state, DomainState::Shutoff);
    assert_eq!(info.max_memory_kib, 256 * 1024);
    assert_eq!(info.vcpus, 2);

    let running = client.domain_create(&dom).await.unwrap();
    assert!(running.id > 0, "a started domain has an id: {running:?}");
    assert_eq!(
        client.domain_get_state(&dom).await.unwrap().0,
        DomainState::Running
    );
    assert_eq!(
        virsh_ok(&uri, &["domstate", "hp-guest-1"]).trim(),
        "running"
    );
    let xml = client.domain_get_xml_desc(&dom, 0).await.unwrap();
    assert!(xml.contains("<name>hp-guest-1</name>"), "{xml}");
    assert!(xml.contains(&dom.uuid.to_string()), "{xml}");

    client.domain_destroy(&dom).await.unwrap();
    assert_eq!(
        client.domain_get_state(&dom).await.unwrap().0,
        DomainState::Shutoff
    );
    assert_eq!(
        virsh_ok(&uri, &["domstate", "hp-guest-1"]).trim(),
        "shut off"
    );
    client.domain_undefine(&dom, 0).await.unwrap();
    assert!(client
        .find_domain_by_name("hp-guest-1")
        .await
        .unwrap()
        .is_none());
    assert!(client
        .find_domain_by_uuid(&dom.uuid)
        .await
        .unwrap()
        .is_none());
    assert!(!virsh(&uri, &["dominfo", "hp-guest-1"]).status.success());

    // libvirt's own errors come back decoded, with libvirt's message.
    let err = client
        .domain_lookup_by_name("no-such-guest")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(err.to_string().contains("Domain not found"), "{err}");
    let err = client.domain_define_xml("<domain>").await.unwrap_err();
    assert!(matches!(err, Error::Remote(_)), "{err:?}");

    // Storage: the test driver's pool; create, clone, inspect, delete.
    let pool = client
        .storage_pool_lookup_by_name("default-pool")
        .await
        .unwrap();
    client.storage_pool_refresh(&pool).await.unwrap();
    assert!(client
        .find_storage_pool("no-such-pool")
        .await
        .unwrap()
        .is_none());
    let vol = client
        .storage_vol_create_xml(
            &pool,
            "<volume><name>boot.qcow2</name><capacity unit='bytes'>1048576</capacity></volume>",
        )
        .await
        .unwrap();
    assert_eq!(vol.name, "boot.qcow2");
    let clone = client
        .storage_vol_create_xml_from(
            &pool,
            "<volume><name>hp-guest-1-boot.qcow2</name><capacity unit='bytes'>1048576</capacity></volume>",
            &vol,
        )
        .await
        .unwrap();
    assert_eq!(clone.name, "hp-guest-1-boot.qcow2");
    let vols = virsh_ok(&uri, &["vol-list", "default-pool"]);
    assert!(
        vols.contains("boot.qcow2") && vols.contains("hp-guest-1-boot.qcow2"),
        "{vols}"
    );
    let info = client.storage_vol_get_info(&clone).await.unwrap();
    assert_eq!(info.capacity, 1_048_576);
    assert_eq!(
        client
            .storage_vol_lookup_by_name(&pool, "hp-guest-1-boot.qcow2")
            .await
            .unwrap(),
        clone
    );
    client.storage_vol_delete(&clone).await.unwrap();
    client.storage_vol_delete(&vol).await.unwrap();
    assert!(client
        .find_storage_vol(&pool, "boot.qcow2")
        .await
        .unwrap()
        .is_none());
    assert!(!virsh_ok(&uri, &["vol-list", "default-pool"]).contains("boot.qcow2"));

    // Networks: the test driver's default network.
    let net = client.network_lookup_by_name("default").await.unwrap();
    assert_eq!(net.name, "default");
    assert!(client.find_network("no-such-net").await.unwrap().is_none());

    // Many calls in flight on one connection are matched to their replies by serial.
    let lookups = (0..32).map(|_| {
        let c = client.clone();
        async move { c.storage_pool_lookup_by_name("default-pool").await }
    });
    for r in futures_join_all(lookups).await {
        assert_eq!(r.unwrap(), pool);
    }

    client.close().await.unwrap();
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// A small round trip on any transport: the daemon answers and our define is visible.
async fn round_trip(client: &Client, name: &str) {
    assert!(client
        .capabilities()
        .await
        .unwrap()
        .contains("<capabilities>"));
    let dom = client
        .domain_define_xml(&DOMAIN_XML.replace("hp-guest-1", name))
        .await
        .unwrap();
    assert_eq!(client.domain_lookup_by_name(name).await.unwrap(), dom);
    client.domain_undefine(&dom, 0).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_client_certificates_from_pkipath() {
    if !libvirt_tools_available() {
        return;
    }
    let daemon = Daemon::start(true);
    let port = daemon.tls_port.unwrap();
    let pki = |which: &str| daemon.dir.path().join(which);
    let good = format!(
        "test+tls://localhost:{port}/default?pkipath={}",
        pki("pki-good").display()
    );
    let client = connect_to(&good).await;
    round_trip(&client, "tls-guest").await;
    client.close().await.unwrap();

    // A client certificate from another CA is refused, and the error says TLS.
    let rogue = format!(
        "test+tls://localhost:{port}/default?pkipath={}",
        pki("pki-rogue").display()
    );
    let err = Client::connect(&rogue, ConnectOptions::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("TLS"), "{err}");

    // The server's certificate must name the host we dialled.
    let wrong_host = format!(
        "test+tls://127.0.0.2:{port}/default?pkipath={}",
        pki("pki-good").display()
    );
    assert!(Client::connect(&wrong_host, ConnectOptions::default())
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssh_transport_runs_the_ssh_command_and_netcat_on_the_host() {
    if !libvirt_tools_available() {
        return;
    }
    let daemon = Daemon::start(false);
    let d = daemon.dir.path();
    // Stand-ins, since the test machine has no SSH server: "ssh" records its arguments
    // and runs the remote command locally; "nc -U" bridges stdio to the UNIX socket.
    let ssh = d.join("fake-ssh");
    std::fs::write(
        &ssh,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > {}\nfor a; do last=$a; done\nexec sh -c \"$last\"\n",
            d.join("ssh-args").display()
        ),
    )
    .unwrap();
    let nc = d.join("fake-nc");
    std::fs::write(
        &nc,
        "#!/usr/bin/env python3\n\
         import os, socket, sys, threading\n\
         assert sys.argv[1] == '-U'\n\
         s = socket.socket(socket.AF_UNIX)\n\
         s.connect(sys.argv[2])\n\
         def up():\n\
         \x20   while True:\n\
         \x20       d = os.read(0, 65536)\n\
         \x20       if not d:\n\
         \x20           s.shutdown(socket.SHUT_WR)\n\
         \x20           return\n\
         \x20       s.sendall(d)\n\
         threading.Thread(target=up, daemon=True).start()\n\
         while True:\n\
         \x20   d = s.recv(65536)\n\
         \x20   if not d:\n\
         \x20       break\n\
         \x20   os.write(1, d)\n",
    )
    .unwrap();
    for f in [&ssh, &nc] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let uri = format!(
        "test+ssh://tester@kvm-host.example:2222/default?command={}&proxy=netcat&netcat={}&socket={}",
        ssh.display(),
        nc.display(),
        daemon.socket.display()
    );
    let client = connect_to(&uri).await;
    round_trip(&client, "ssh-guest").await;
    client.close().await.unwrap();
    let args = std::fs::read_to_string(d.join("ssh-args")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    for want in [["-p", "2222"], ["-l", "tester"], ["-o", "BatchMode=yes"]] {
        assert!(
            args.windows(2).any(|w| w == want),
            "{want:?} missing from {args:?}"
        );
    }
    assert!(args.contains(&"kvm-host.example"), "{args:?}");
}
