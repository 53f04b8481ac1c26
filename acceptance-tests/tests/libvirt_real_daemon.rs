//! Our libvirt client (provider/src/libvirt) against Debian's real libvirtd: its built-in
//! `test:///default` driver reached through the daemon's UNIX socket (no TCP listener),
//! for every procedure that driver supports: capabilities, domain define / lookup /
//! start / state / info / XML / destroy / undefine, and volume create / clone / info /
//! delete. `virsh` on a second connection is the judge of what our calls changed (the
//! test driver shares `test:///default` between connections of one daemon).

mod libvirt_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyperprotect::libvirt::{Client, ConnectOptions, DomainState, Error};
use libvirt_support::{libvirt_tools_available, virsh, virsh_ok};

/// A private libvirtd on a socket in a temporary directory, killed when dropped.
struct Daemon {
    child: Child,
    _dir: tempfile::TempDir,
    socket: PathBuf,
}

impl Daemon {
    fn start() -> Daemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock_dir = dir.path().join("sock");
        std::fs::create_dir(&sock_dir).expect("sock dir");
        let conf = dir.path().join("libvirtd.conf");
        std::fs::write(
            &conf,
            format!(
                "listen_tls = 0\nlisten_tcp = 0\nauth_unix_rw = \"none\"\nauth_unix_ro = \"none\"\n\
                 unix_sock_dir = \"{}\"\nunix_sock_rw_perms = \"0700\"\n",
                sock_dir.display()
            ),
        )
        .expect("write conf");
        let libvirtd = if std::path::Path::new("/usr/sbin/libvirtd").exists() {
            "/usr/sbin/libvirtd".to_string()
        } else {
            "libvirtd".to_string()
        };
        let child = Command::new(libvirtd)
            .arg("--config")
            .arg(&conf)
            .arg("--pid-file")
            .arg(dir.path().join("libvirtd.pid"))
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
            _dir: dir,
            socket,
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
    // Retry briefly: the socket file appears a moment before libvirtd accepts on it.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Client::connect(&daemon.uri(), ConnectOptions::default()).await {
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
    let daemon = Daemon::start();
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
