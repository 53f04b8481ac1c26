//! mock-cloud's KVM host: an IBM Z (s390x) host with Secure Execution reached the way
//! `virsh` and our provider reach a LinuxONE LPAR, over libvirt's remote RPC protocol
//! (`qemu+tcp://ADDR/system`, auth none). It has its own XDR and packet code (nothing
//! shared with the provider's client) and is checked against Debian's `virsh`.
//!
//! - [`boot`]: what a starting guest prints; a guest with a `cidata` disk ([`iso`]) runs
//!   the Hyper Protect boot on its contract.
//! - [`host`]: domains, the `default` pool (seeded with the CCRT image), the `default`
//!   network with DHCP leases, consoles and console log volumes.
//! - [`store`]: `DATA_DIR/libvirt/` keeps the host across restarts (the binary's
//!   `--data-dir`).
//! - [`server`]: the procedures it answers (see `wire::proc_`), streams (volume upload /
//!   download, consoles) and keepalive.

pub mod boot;
pub mod host;
pub mod iso;
pub mod server;
pub mod store;
pub mod wire;
pub mod xdr;
pub mod xml;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use host::Host;

use super::pki::Pki;

/// A running KVM host endpoint; stops when dropped.
pub struct LibvirtHost {
    addr: SocketAddr,
    host: server::SharedHost,
    task: JoinHandle<()>,
}

impl LibvirtHost {
    /// Listens on `listen` (port 0: a free port). Guests with a `cidata` disk run the
    /// Hyper Protect boot with `pki` (without it they start without evaluating it). With `state_dir` the host is loaded from
    /// there (seeded and written on first use) and every change is kept there; without,
    /// a freshly seeded host lives in memory.
    pub async fn start(
        listen: SocketAddr,
        access_log: bool,
        state_dir: Option<PathBuf>,
        pki: Option<Pki>,
    ) -> std::io::Result<LibvirtHost> {
        let mut host = match &state_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                Host::open(dir)?
            }
            None => Host::seeded(),
        };
        host.pki = pki;
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let host = Arc::new(Mutex::new(host));
        let task = tokio::spawn(server::serve(listener, host.clone(), access_log, state_dir));
        Ok(LibvirtHost { addr, host, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URI clients use: `qemu+tcp://ADDR/system`.
    pub fn uri(&self) -> String {
        format!("qemu+tcp://{}/system", self.addr)
    }

    /// The host's state, for tests that look behind the protocol.
    pub fn host(&self) -> &Arc<Mutex<Host>> {
        &self.host
    }
}

impl Drop for LibvirtHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}
