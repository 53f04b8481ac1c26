//! The emulated KVM host's state: domains, storage pools with volumes (their bytes kept
//! in memory), networks with DHCP leases, and each domain's console (live listeners and
//! the console log file libvirt writes). Methods mirror libvirt's driver calls and fail
//! with libvirt's error codes and messages.
//!
//! The host is an IBM Z (s390x) LPAR with IBM Secure Execution, the platform of CCRT and
//! CCRV guests: IBM's "Confidential Computing Container Runtime" documentation runs
//! them as KVM guests defined with `<launchSecurity type='s390-pv'/>` on such hosts, and
//! libvirt reports the host's support as `<s390-pv supported='yes'/>` in its domain
//! capabilities (libvirt formatdomaincaps, "s390-pv").

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::wire::{code, from, RpcError};
use super::xml::{attr, element, elements, escape, size_bytes, text};

/// The CCRT image IBM publishes for KVM on LinuxONE, as the emulator seeds it.
pub const SEED_IMAGE: &str = "ibm-confidential-computing-container-runtime-26.7.2.qcow2";
pub const POOL_PATH: &str = "/var/lib/libvirt/images";

/// `virDomainState`.
pub const RUNNING: i32 = 1;
pub const SHUTOFF: i32 = 5;

/// How long a guest takes to honour a graceful shutdown request.
const SHUTDOWN_DELAY: Duration = Duration::from_millis(500);

pub type Uuid = [u8; 16];

pub fn new_uuid() -> Uuid {
    let mut b = [0u8; 16];
    openssl::rand::rand_bytes(&mut b).expect("random bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

pub fn uuid_string(u: &Uuid) -> String {
    let h = hex::encode(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn parse_uuid(s: &str) -> Option<Uuid> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    hex::decode(h).ok()?.try_into().ok()
}

#[derive(Serialize, Deserialize)]
pub struct Interface {
    pub mac: String,
    pub network: Option<String>,
}

#[derive(Serialize, Deserialize)]
pub struct Domain {
    pub name: String,
    pub uuid: Uuid,
    /// `<domain type=…>`.
    pub virt_type: String,
    /// The definition's children other than `<name>` and `<uuid>`, as given (MACs filled in).
    pub body: String,
    pub memory_kib: u64,
    pub vcpus: u32,
    pub os_type: String,
    pub id: Option<i32>,
    pub persistent: bool,
    #[serde(skip)]
    pub started: Option<Instant>,
    #[serde(skip)]
    pub shutdown_requested: Option<Instant>,
    /// `virDomainShutoffReason` / `virDomainRunningReason`.
    pub reason: i32,
    pub interfaces: Vec<Interface>,
    /// `<log file=…>` of the console: libvirt appends everything the guest prints there.
    pub console_log: Option<String>,
    #[serde(skip)]
    pub console_listeners: Vec<mpsc::UnboundedSender<Vec<u8>>>,
    /// Disk sources: (pool, volume) or a file path.
    pub disks: Vec<DiskSource>,
}

#[derive(Serialize, Deserialize)]
pub enum DiskSource {
    Volume { pool: String, volume: String },
    File(String),
}

impl Domain {
    pub fn state(&self) -> i32 {
        if self.id.is_some() {
            RUNNING
        } else {
            SHUTOFF
        }
    }

    /// What `virsh dumpxml` shows.
    pub fn xml(&self) -> String {
        let id = self.id.map(|i| format!(" id='{i}'")).unwrap_or_default();
        format!(
            "<domain type='{}'{id}>\n  <name>{}</name>\n  <uuid>{}</uuid>\n  {}\n</domain>\n",
            escape(&self.virt_type),
            escape(&self.name),
            uuid_string(&self.uuid),
            self.body.trim()
        )
    }
}

#[derive(Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub key: String,
    pub capacity: u64,
    pub format: String,
    /// Kept in its own file by the store (see `store.rs`).
    #[serde(skip)]
    pub data: Vec<u8>,
}

impl Volume {
    pub fn xml(&self) -> String {
        format!(
            "<volume type='file'>\n  <name>{n}</name>\n  <key>{k}</key>\n  <source>\n  </source>\n  \
             <capacity unit='bytes'>{c}</capacity>\n  <allocation unit='bytes'>{a}</allocation>\n  \
             <physical unit='bytes'>{a}</physical>\n  <target>\n    <path>{k}</path>\n    \
             <format type='{f}'/>\n  </target>\n</volume>\n",
            n = escape(&self.name),
            k = escape(&self.key),
            c = self.capacity,
            a = self.data.len(),
            f = escape(&self.format),
        )
    }
}

#[derive(Serialize, Deserialize)]
pub struct Pool {
    pub name: String,
    pub uuid: Uuid,
    pub path: String,
    pub volumes: BTreeMap<String, Volume>,
}

#[derive(Serialize, Deserialize)]
pub struct Lease {
    pub mac: String,
    pub ip: String,
    pub hostname: String,
    pub expiry: i64,
}

#[derive(Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub uuid: Uuid,
    pub bridge: String,
    /// The /24 the network hands out, e.g. `192.168.122`.
    pub subnet: String,
    pub leases: Vec<Lease>,
}

#[derive(Serialize, Deserialize)]
pub struct Host {
    pub domains: BTreeMap<String, Domain>,
    pub pools: BTreeMap<String, Pool>,
    pub networks: BTreeMap<String, Network>,
    pub(super) next_id: i32,
    /// The Hyper Protect platform keys guests decrypt their contract with.
    #[serde(skip)]
    pub pki: Option<crate::mock_cloud::pki::Pki>,
    /// Something changed since the store last wrote the host.
    #[serde(skip)]
    pub(super) changed: bool,
    /// Volumes whose bytes changed (pool, name) since the store last wrote them.
    #[serde(skip)]
    pub(super) dirty_volumes: std::collections::BTreeSet<(String, String)>,
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn no_domain(what: &str) -> RpcError {
    RpcError::new(
        code::NO_DOMAIN,
        from::QEMU,
        format!("Domain not found: {what}"),
    )
}

fn xml_error(what: impl std::fmt::Display) -> RpcError {
    RpcError::new(code::XML_ERROR, from::QEMU, format!("XML error: {what}"))
}

/// A placeholder qcow2 image: the qcow2 v3 header fields (magic `QFI\xfb`, version,
/// cluster bits 16, virtual size 10 GiB) padded to one 64 KiB cluster.
fn seed_image() -> Vec<u8> {
    let mut b = Vec::with_capacity(65536);
    b.extend_from_slice(b"QFI\xfb");
    b.extend_from_slice(&3u32.to_be_bytes());
    b.extend_from_slice(&0u64.to_be_bytes());
    b.extend_from_slice(&0u32.to_be_bytes());
    b.extend_from_slice(&16u32.to_be_bytes());
    b.extend_from_slice(&(10u64 << 30).to_be_bytes());
    b.resize(65536, 0);
    b
}

impl Default for Host {
    fn default() -> Self {
        Host::seeded()
    }
}

impl Host {
    /// The host as installed: pool `default` holding the CCRT image, network `default`
    /// (libvirt's stock NAT network, 192.168.122.0/24 with DHCP).
    pub fn seeded() -> Host {
        let mut volumes = BTreeMap::new();
        volumes.insert(
            SEED_IMAGE.to_string(),
            Volume {
                name: SEED_IMAGE.to_string(),
                key: format!("{POOL_PATH}/{SEED_IMAGE}"),
                capacity: 10 << 30,
                format: "qcow2".into(),
                data: seed_image(),
            },
        );
        let mut pools = BTreeMap::new();
        pools.insert(
            "default".to_string(),
            Pool {
                name: "default".into(),
                uuid: new_uuid(),
                path: POOL_PATH.into(),
                volumes,
            },
        );
        let mut networks = BTreeMap::new();
        networks.insert(
            "default".to_string(),
            Network {
                name: "default".into(),
                uuid: new_uuid(),
                bridge: "virbr0".into(),
                subnet: "192.168.122".into(),
                leases: Vec::new(),
            },
        );
        Host {
            domains: BTreeMap::new(),
            pools,
            networks,
            next_id: 1,
            pki: None,
            changed: true,
            dirty_volumes: [("default".to_string(), SEED_IMAGE.to_string())].into(),
        }
    }

    /// Applies what time has done: guests asked to shut down have powered off.
    pub fn settle(&mut self) {
        let done: Vec<String> = self
            .domains
            .values()
            .filter(|d| matches!(d.shutdown_requested, Some(t) if t.elapsed() >= SHUTDOWN_DELAY))
            .map(|d| d.name.clone())
            .collect();
        for name in done {
            // VIR_DOMAIN_SHUTOFF_SHUTDOWN
            self.power_off(&name, 1);
        }
    }

    pub fn domain(&self, name: &str) -> Result<&Domain, RpcError> {
        self.domains
            .get(name)
            .ok_or_else(|| no_domain(&format!("no domain with matching name '{name}'")))
    }

    pub fn domain_by_uuid(&self, uuid: &Uuid) -> Result<&Domain, RpcError> {
        self.domains
            .values()
            .find(|d| &d.uuid == uuid)
            .ok_or_else(|| {
                no_domain(&format!(
                    "no domain with matching uuid '{}'",
                    uuid_string(uuid)
                ))
            })
    }

    pub fn domain_by_id(&self, id: i32) -> Result<&Domain, RpcError> {
        self.domains
            .values()
            .find(|d| d.id == Some(id))
            .ok_or_else(|| no_domain(&format!("no domain with matching id {id}")))
    }

    /// The domain a handle names: libvirt resolves handles by uuid.
    pub fn resolve(&self, uuid: &Uuid, name: &str) -> Result<String, RpcError> {
        match self.domains.values().find(|d| &d.uuid == uuid) {
            Some(d) => Ok(d.name.clone()),
            None => Err(no_domain(&format!(
                "no domain with matching uuid '{}' ({name})",
                uuid_string(uuid)
            ))),
        }
    }

    pub fn define(&mut self, xml: &str) -> Result<&Domain, RpcError> {
        self.changed = true;
        let (root_attrs, inner) =
            element(xml, "domain").ok_or_else(|| xml_error("missing <domain> element"))?;
        let virt_type = attr(root_attrs, "type")
            .ok_or_else(|| xml_error("missing domain type attribute"))?
            .to_string();
        if virt_type != "kvm" && virt_type != "qemu" {
            return Err(RpcError::new(
                67,
                from::QEMU,
                format!("unsupported configuration: Emulator does not support virtualization type '{virt_type}'"),
            ));
        }
        let name = text(inner, "name")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| xml_error("missing name information"))?
            .to_string();
        let memory = match size_bytes(inner, "memory", "KiB") {
            Some(Ok(b)) if b > 0 => b / 1024,
            Some(Err(e)) => return Err(xml_error(e)),
            _ => return Err(xml_error("missing memory element")),
        };
        let vcpus = match text(inner, "vcpu") {
            None => 1,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| xml_error(format!("invalid vcpus {v:?}")))?,
        };
        let os = element(inner, "os").map(|(_, o)| o).unwrap_or("");
        let (os_attrs, os_type) = element(os, "type").unwrap_or(("", "hvm"));
        if let Some(arch) = attr(os_attrs, "arch") {
            if arch != "s390x" {
                return Err(RpcError::new(
                    67,
                    from::QEMU,
                    format!(
                        "unsupported configuration: No guest options available for arch '{arch}'"
                    ),
                ));
            }
        }
        let uuid = match text(inner, "uuid") {
            Some(u) => {
                parse_uuid(u).ok_or_else(|| xml_error(format!("malformed uuid element {u:?}")))?
            }
            None => self
                .domains
                .get(&name)
                .map(|d| d.uuid)
                .unwrap_or_else(new_uuid),
        };
        if let Some(other) = self
            .domains
            .values()
            .find(|d| d.uuid == uuid && d.name != name)
        {
            return Err(RpcError::new(
                code::OPERATION_INVALID,
                from::QEMU,
                format!(
                    "domain '{}' already exists with uuid {}",
                    other.name,
                    uuid_string(&uuid)
                ),
            ));
        }
        if let Some(same) = self.domains.get(&name) {
            if same.uuid != uuid {
                return Err(RpcError::new(
                    code::OPERATION_INVALID,
                    from::QEMU,
                    format!(
                        "domain '{name}' already exists with uuid {}",
                        uuid_string(&same.uuid)
                    ),
                ));
            }
        }
        // The body without <name> and <uuid>, with a MAC for every interface that has none
        // (libvirt assigns 52:54:00:xx:xx:xx when defining).
        let mut body = strip_element(inner, "name");
        body = strip_element(&body, "uuid");
        let mut interfaces = Vec::new();
        let mut filled = String::new();
        let mut rest = body.as_str();
        while let Some(i) = rest.find("<interface") {
            let (before, from_iface) = rest.split_at(i);
            filled.push_str(before);
            let end = from_iface
                .find("</interface>")
                .map(|e| e + "</interface>".len())
                .unwrap_or(from_iface.len());
            let mut iface = from_iface[..end].to_string();
            let mac = match element(&iface, "mac").and_then(|(a, _)| attr(a, "address")) {
                Some(m) => m.to_string(),
                None => {
                    let mut b = [0u8; 3];
                    openssl::rand::rand_bytes(&mut b).expect("random bytes");
                    let m = format!("52:54:00:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2]);
                    if let Some(gt) = iface.find('>') {
                        iface.insert_str(gt + 1, &format!("<mac address='{m}'/>"));
                    }
                    m
                }
            };
            let network = element(&iface, "source")
                .and_then(|(a, _)| attr(a, "network"))
                .map(str::to_string);
            interfaces.push(Interface { mac, network });
            filled.push_str(&iface);
            rest = &from_iface[end..];
        }
        filled.push_str(rest);
        let disks = elements(&filled, "disk")
            .into_iter()
            .filter_map(|(_, d)| {
                let (a, _) = element(d, "source")?;
                match (attr(a, "pool"), attr(a, "volume"), attr(a, "file")) {
                    (Some(p), Some(v), _) => Some(DiskSource::Volume {
                        pool: p.into(),
                        volume: v.into(),
                    }),
                    (_, _, Some(f)) => Some(DiskSource::File(f.into())),
                    _ => None,
                }
            })
            .collect();
        let console_log = elements(&filled, "console")
            .into_iter()
            .chain(elements(&filled, "serial"))
            .find_map(|(_, c)| {
                element(c, "log")
                    .and_then(|(a, _)| attr(a, "file"))
                    .map(str::to_string)
            });
        let existing = self.domains.remove(&name);
        let d = Domain {
            name: name.clone(),
            uuid,
            virt_type,
            body: filled,
            memory_kib: memory,
            vcpus,
            os_type: os_type.trim().to_string(),
            id: existing.as_ref().and_then(|e| e.id),
            persistent: true,
            started: existing.as_ref().and_then(|e| e.started),
            shutdown_requested: existing.as_ref().and_then(|e| e.shutdown_requested),
            reason: existing.as_ref().map(|e| e.reason).unwrap_or(0),
            interfaces,
            console_log,
            console_listeners: existing.map(|e| e.console_listeners).unwrap_or_default(),
            disks,
        };
        self.domains.insert(name.clone(), d);
        Ok(&self.domains[&name])
    }

    pub fn start(&mut self, name: &str) -> Result<i32, RpcError> {
        self.changed = true;
        let d = self.domain(name)?;
        if d.id.is_some() {
            return Err(RpcError::new(
                code::OPERATION_INVALID,
                from::QEMU,
                "Requested operation is not valid: domain is already running",
            ));
        }
        for disk in &d.disks {
            match disk {
                DiskSource::Volume { pool, volume } => {
                    let p = self.pools.get(pool).ok_or_else(|| no_pool(pool))?;
                    if !p.volumes.contains_key(volume) {
                        return Err(no_vol(volume));
                    }
                }
                DiskSource::File(f) => {
                    if self.volume_by_path(f).is_none() {
                        return Err(RpcError::new(
                            38,
                            from::QEMU,
                            format!("Cannot access storage file '{f}': No such file or directory"),
                        ));
                    }
                }
            }
        }
        for i in &d.interfaces {
            if let Some(n) = &i.network {
                if !self.networks.contains_key(n) {
                    return Err(RpcError::new(
                        code::NO_NETWORK,
                        from::NETWORK,
                        format!("Network not found: no network with matching name '{n}'"),
                    ));
                }
            }
        }
        let hostname = name.to_string();
        let ifaces: Vec<(String, String)> = d
            .interfaces
            .iter()
            .filter_map(|i| i.network.clone().map(|n| (n, i.mac.clone())))
            .collect();
        let id = self.next_id;
        self.next_id += 1;
        for (net, mac) in ifaces {
            let n = self.networks.get_mut(&net).expect("checked above");
            if !n.leases.iter().any(|l| l.mac == mac) {
                let used: Vec<&str> = n.leases.iter().map(|l| l.ip.as_str()).collect();
                let ip = (2..255)
                    .map(|h| format!("{}.{h}", n.subnet))
                    .find(|ip| !used.contains(&ip.as_str()))
                    .ok_or_else(|| {
                        RpcError::new(code::INTERNAL_ERROR, from::NETWORK, "DHCP range exhausted")
                    })?;
                n.leases.push(Lease {
                    mac,
                    ip,
                    hostname: hostname.clone(),
                    expiry: now_secs() + 3600,
                });
            }
        }
        let d = self.domains.get_mut(name).expect("looked up above");
        d.id = Some(id);
        d.started = Some(Instant::now());
        d.shutdown_requested = None;
        d.reason = 1; // VIR_DOMAIN_RUNNING_BOOTED
        self.boot(name);
        Ok(id)
    }

    fn power_off(&mut self, name: &str, reason: i32) {
        self.changed = true;
        let Some(d) = self.domains.get_mut(name) else {
            return;
        };
        d.id = None;
        d.started = None;
        d.shutdown_requested = None;
        d.reason = reason;
        // The console stream ends when the guest goes away.
        d.console_listeners.clear();
        if !d.persistent {
            self.domains.remove(name);
        }
    }

    pub fn destroy(&mut self, name: &str) -> Result<(), RpcError> {
        if self.domain(name)?.id.is_none() {
            return Err(not_running());
        }
        // VIR_DOMAIN_SHUTOFF_DESTROYED
        self.power_off(name, 2);
        Ok(())
    }

    pub fn shutdown(&mut self, name: &str) -> Result<(), RpcError> {
        self.changed = true;
        let d = self.domains.get_mut(name).ok_or_else(|| no_domain(name))?;
        if d.id.is_none() {
            return Err(not_running());
        }
        d.shutdown_requested.get_or_insert_with(Instant::now);
        Ok(())
    }

    pub fn undefine(&mut self, name: &str) -> Result<(), RpcError> {
        self.changed = true;
        let d = self.domains.get_mut(name).ok_or_else(|| no_domain(name))?;
        if d.id.is_some() {
            // A running domain stays until it stops, as a transient one.
            d.persistent = false;
        } else {
            self.domains.remove(name);
        }
        Ok(())
    }

    /// Everything the guest prints: to live console streams and the console log.
    pub fn console_write(&mut self, name: &str, bytes: &[u8]) {
        let Some(d) = self.domains.get_mut(name) else {
            return;
        };
        d.console_listeners
            .retain(|l| l.send(bytes.to_vec()).is_ok());
        if let Some(path) = d.console_log.clone() {
            if self.volume_by_path(&path).is_none() {
                self.create_log_file(&path);
            }
            if let Some((pool, v)) = self.volume_by_path_mut(&path) {
                v.data.extend_from_slice(bytes);
                let key = (pool, v.name.clone());
                self.dirty_volumes.insert(key);
                self.changed = true;
            }
        }
    }

    /// QEMU creates a missing console log file (`<log file=…>` in libvirt's formatdomain,
    /// "Consoles, serial, parallel & channel devices"); one inside a pool's directory is
    /// then one of that pool's volumes, as a `pool-refresh` on a real host would list it.
    fn create_log_file(&mut self, path: &str) {
        let Some(pool) = self.pools.values_mut().find(|p| {
            path.strip_prefix(&p.path)
                .is_some_and(|rest| rest.starts_with('/') && !rest[1..].contains('/'))
        }) else {
            return;
        };
        let name = path[pool.path.len() + 1..].to_string();
        pool.volumes.insert(
            name.clone(),
            Volume {
                name,
                key: path.to_string(),
                capacity: 0,
                format: "raw".into(),
                data: Vec::new(),
            },
        );
    }

    /// Bytes typed on the console: the guest's terminal echoes them (a carriage return as
    /// a new line).
    pub fn console_input(&mut self, name: &str, bytes: &[u8]) {
        let mut echo = Vec::with_capacity(bytes.len());
        for &b in bytes {
            if b == b'\r' {
                echo.extend_from_slice(b"\r\n");
            } else {
                echo.push(b);
            }
        }
        let Some(d) = self.domains.get_mut(name) else {
            return;
        };
        d.console_listeners.retain(|l| l.send(echo.clone()).is_ok());
    }

    pub fn open_console(
        &mut self,
        name: &str,
    ) -> Result<mpsc::UnboundedReceiver<Vec<u8>>, RpcError> {
        let d = self.domains.get_mut(name).ok_or_else(|| no_domain(name))?;
        if d.id.is_none() {
            return Err(not_running());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        d.console_listeners.push(tx);
        Ok(rx)
    }

    pub fn pool(&self, name: &str) -> Result<&Pool, RpcError> {
        self.pools.get(name).ok_or_else(|| no_pool(name))
    }

    pub fn pool_by_uuid(&self, uuid: &Uuid) -> Result<&Pool, RpcError> {
        self.pools
            .values()
            .find(|p| &p.uuid == uuid)
            .ok_or_else(|| no_pool(&uuid_string(uuid)))
    }

    pub fn volume(&self, pool: &str, name: &str) -> Result<&Volume, RpcError> {
        self.pool(pool)?
            .volumes
            .get(name)
            .ok_or_else(|| no_vol(name))
    }

    pub fn volume_mut(&mut self, pool: &str, name: &str) -> Result<&mut Volume, RpcError> {
        self.pools
            .get_mut(pool)
            .ok_or_else(|| no_pool(pool))?
            .volumes
            .get_mut(name)
            .ok_or_else(|| no_vol(name))
    }

    pub fn volume_by_path(&self, path: &str) -> Option<(&Pool, &Volume)> {
        self.pools
            .values()
            .find_map(|p| p.volumes.values().find(|v| v.key == path).map(|v| (p, v)))
    }

    fn volume_by_path_mut(&mut self, path: &str) -> Option<(String, &mut Volume)> {
        self.pools.values_mut().find_map(|p| {
            let pool = p.name.clone();
            p.volumes
                .values_mut()
                .find(|v| v.key == path)
                .map(|v| (pool, v))
        })
    }

    /// `virStorageVolCreateXML[From]`.
    pub fn create_volume(
        &mut self,
        pool: &str,
        xml: &str,
        clone_of: Option<&str>,
    ) -> Result<&Volume, RpcError> {
        let (_, inner) =
            element(xml, "volume").ok_or_else(|| xml_error("missing <volume> element"))?;
        let name = text(inner, "name")
            .filter(|n| !n.is_empty())
            .ok_or_else(|| xml_error("missing volume name element"))?
            .to_string();
        let p = self.pool(pool)?;
        if p.volumes.contains_key(&name) {
            return Err(RpcError::new(
                code::STORAGE_VOL_EXIST,
                from::STORAGE,
                format!("storage volume '{name}' exists already"),
            ));
        }
        let source = match clone_of {
            Some(s) => Some(p.volumes.get(s).ok_or_else(|| no_vol(s))?),
            None => None,
        };
        let capacity = match size_bytes(inner, "capacity", "bytes") {
            Some(Ok(c)) => c,
            Some(Err(e)) => return Err(xml_error(e)),
            None => match source {
                Some(s) => s.capacity,
                None => return Err(xml_error("missing capacity element")),
            },
        };
        let format = element(inner, "format")
            .and_then(|(a, _)| attr(a, "type"))
            .map(str::to_string)
            .or_else(|| source.map(|s| s.format.clone()))
            .unwrap_or_else(|| "raw".into());
        let data = source.map(|s| s.data.clone()).unwrap_or_default();
        let capacity = capacity.max(source.map(|s| s.capacity).unwrap_or(0));
        let key = format!("{}/{name}", p.path);
        self.changed = true;
        self.dirty_volumes.insert((pool.to_string(), name.clone()));
        let p = self.pools.get_mut(pool).expect("looked up above");
        p.volumes.insert(
            name.clone(),
            Volume {
                name: name.clone(),
                key,
                capacity,
                format,
                data,
            },
        );
        Ok(&p.volumes[&name])
    }

    pub fn delete_volume(&mut self, pool: &str, name: &str) -> Result<(), RpcError> {
        self.changed = true;
        self.dirty_volumes
            .insert((pool.to_string(), name.to_string()));
        self.pools
            .get_mut(pool)
            .ok_or_else(|| no_pool(pool))?
            .volumes
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| no_vol(name))
    }

    pub fn network(&self, name: &str) -> Result<&Network, RpcError> {
        self.networks.get(name).ok_or_else(|| {
            RpcError::new(
                code::NO_NETWORK,
                from::NETWORK,
                format!("Network not found: no network with matching name '{name}'"),
            )
        })
    }

    pub fn capabilities() -> String {
        "<capabilities>\n  <host>\n    <uuid>6b8c1e2e-0d1f-4e5a-9c3b-5a7d0e1f2a3b</uuid>\n    <cpu>\n      <arch>s390x</arch>\n    </cpu>\n  </host>\n  \
         <guest>\n    <os_type>hvm</os_type>\n    <arch name='s390x'>\n      <wordsize>64</wordsize>\n      \
         <emulator>/usr/bin/qemu-system-s390x</emulator>\n      <machine canonical='s390-ccw-virtio-9.1'>s390-ccw-virtio</machine>\n      \
         <domain type='qemu'/>\n      <domain type='kvm'/>\n    </arch>\n  </guest>\n</capabilities>\n"
            .to_string()
    }

    pub fn domain_capabilities(
        arch: Option<&str>,
        virt_type: Option<&str>,
    ) -> Result<String, RpcError> {
        if let Some(a) = arch.filter(|a| *a != "s390x") {
            return Err(RpcError::new(67, from::QEMU, format!("unsupported configuration: Emulator '/usr/bin/qemu-system-s390x' does not support arch '{a}'")));
        }
        let virt = virt_type.unwrap_or("kvm");
        Ok(format!(
            "<domainCapabilities>\n  <path>/usr/bin/qemu-system-s390x</path>\n  <domain>{virt}</domain>\n  \
             <machine>s390-ccw-virtio-9.1</machine>\n  <arch>s390x</arch>\n  <vcpu max='248'/>\n  \
             <features>\n    <gic supported='no'/>\n    <vmcoreinfo supported='no'/>\n    <genid supported='no'/>\n    \
             <sev supported='no'/>\n    <s390-pv supported='yes'/>\n  </features>\n</domainCapabilities>\n"
        ))
    }
}

fn strip_element(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    match (xml.find(&open), xml.find(&close)) {
        (Some(a), Some(b)) if b > a => format!("{}{}", &xml[..a], &xml[b + close.len()..]),
        _ => xml.to_string(),
    }
}

fn not_running() -> RpcError {
    RpcError::new(
        code::OPERATION_INVALID,
        from::QEMU,
        "Requested operation is not valid: domain is not running",
    )
}

pub fn no_pool(name: &str) -> RpcError {
    RpcError::new(
        code::NO_STORAGE_POOL,
        from::STORAGE,
        format!("Storage pool not found: no storage pool with matching name '{name}'"),
    )
}

pub fn no_vol(name: &str) -> RpcError {
    RpcError::new(
        code::NO_STORAGE_VOL,
        from::STORAGE,
        format!("Storage volume not found: no storage vol with matching name '{name}'"),
    )
}
