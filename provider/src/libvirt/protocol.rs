//! The part of libvirt's remote program (remote_protocol.x) this client speaks: procedure
//! numbers, the object handles libvirt passes around and the records the calls return,
//! each with its XDR form. Written from the protocol definition; only what
//! `hyperprotect_kvm_instance` and `hyperprotect_kvm_host` need.

use std::fmt;

use super::xdr::{Decoder, Encoder, XdrError};

/// Procedure numbers (`enum remote_procedure`).
pub mod procedure {
    pub const CONNECT_OPEN: i32 = 1;
    pub const CONNECT_CLOSE: i32 = 2;
    pub const CONNECT_GET_CAPABILITIES: i32 = 7;
    pub const DOMAIN_DEFINE_XML: i32 = 11;
    pub const DOMAIN_DESTROY: i32 = 12;
    pub const DOMAIN_GET_XML_DESC: i32 = 14;
    pub const DOMAIN_GET_INFO: i32 = 16;
    pub const DOMAIN_LOOKUP_BY_NAME: i32 = 23;
    pub const DOMAIN_LOOKUP_BY_UUID: i32 = 24;
    pub const DOMAIN_SHUTDOWN: i32 = 33;
    pub const NETWORK_LOOKUP_BY_NAME: i32 = 46;
    pub const CONNECT_SUPPORTS_FEATURE: i32 = 60;
    pub const AUTH_LIST: i32 = 66;
    pub const AUTH_POLKIT: i32 = 70;
    pub const STORAGE_POOL_REFRESH: i32 = 83;
    pub const STORAGE_POOL_LOOKUP_BY_NAME: i32 = 84;
    pub const STORAGE_VOL_CREATE_XML: i32 = 93;
    pub const STORAGE_VOL_DELETE: i32 = 94;
    pub const STORAGE_VOL_LOOKUP_BY_NAME: i32 = 95;
    pub const STORAGE_VOL_GET_INFO: i32 = 98;
    pub const STORAGE_VOL_CREATE_XML_FROM: i32 = 125;
    pub const DOMAIN_CREATE_WITH_FLAGS: i32 = 196;
    pub const DOMAIN_OPEN_CONSOLE: i32 = 201;
    pub const STORAGE_VOL_UPLOAD: i32 = 208;
    pub const STORAGE_VOL_DOWNLOAD: i32 = 209;
    pub const DOMAIN_GET_STATE: i32 = 212;
    pub const DOMAIN_UNDEFINE_FLAGS: i32 = 231;
    pub const NETWORK_GET_DHCP_LEASES: i32 = 341;
    pub const CONNECT_GET_DOMAIN_CAPABILITIES: i32 = 342;
    pub const DOMAIN_INTERFACE_ADDRESSES: i32 = 353;
}

/// `virDrvFeature` values asked with `CONNECT_SUPPORTS_FEATURE`.
pub const FEATURE_PROGRAM_KEEPALIVE: i32 = 10;

/// `remote_auth_type`.
pub mod auth_type {
    pub const NONE: i32 = 0;
    pub const SASL: i32 = 1;
    pub const POLKIT: i32 = 2;
}

/// `REMOTE_*_MAX` array limits used when decoding.
const AUTH_TYPE_LIST_MAX: usize = 20;
const DOMAIN_INTERFACE_MAX: usize = 2048;
const DOMAIN_IP_ADDR_MAX: usize = 2048;
const NETWORK_DHCP_LEASES_MAX: usize = 65536;

/// libvirt's 16-byte UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// Parses the 36-character hyphenated form (hyphens optional, as libvirt accepts).
    pub fn parse(s: &str) -> Option<Uuid> {
        let hex: String = s.chars().filter(|c| *c != '-').collect();
        if hex.len() != 32 || s.len() > 36 {
            return None;
        }
        let bytes = hex::decode(hex).ok()?;
        Some(Uuid(bytes.try_into().ok()?))
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Uuid, XdrError> {
        Ok(Uuid(d.fixed_opaque(16)?.try_into().expect("16 bytes")))
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex::encode(self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

/// `remote_nonnull_domain`: a handle to a domain (id is -1 while it is not running).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub name: String,
    pub uuid: Uuid,
    pub id: i32,
}

impl Domain {
    pub fn encode(&self, e: &mut Encoder) {
        e.string(&self.name).fixed_opaque(&self.uuid.0).i32(self.id);
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<Domain, XdrError> {
        Ok(Domain {
            name: d.string()?,
            uuid: Uuid::decode(d)?,
            id: d.i32()?,
        })
    }
}

/// `remote_nonnull_network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub uuid: Uuid,
}

impl Network {
    pub fn encode(&self, e: &mut Encoder) {
        e.string(&self.name).fixed_opaque(&self.uuid.0);
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<Network, XdrError> {
        Ok(Network {
            name: d.string()?,
            uuid: Uuid::decode(d)?,
        })
    }
}

/// `remote_nonnull_storage_pool`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePool {
    pub name: String,
    pub uuid: Uuid,
}

impl StoragePool {
    pub fn encode(&self, e: &mut Encoder) {
        e.string(&self.name).fixed_opaque(&self.uuid.0);
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<StoragePool, XdrError> {
        Ok(StoragePool {
            name: d.string()?,
            uuid: Uuid::decode(d)?,
        })
    }
}

/// `remote_nonnull_storage_vol`: pool name, volume name and key (usually its path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageVol {
    pub pool: String,
    pub name: String,
    pub key: String,
}

impl StorageVol {
    pub fn encode(&self, e: &mut Encoder) {
        e.string(&self.pool).string(&self.name).string(&self.key);
    }

    pub fn decode(d: &mut Decoder<'_>) -> Result<StorageVol, XdrError> {
        Ok(StorageVol {
            pool: d.string()?,
            name: d.string()?,
            key: d.string()?,
        })
    }
}

/// `virDomainState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainState {
    NoState,
    Running,
    Blocked,
    Paused,
    Shutdown,
    Shutoff,
    Crashed,
    PmSuspended,
    Unknown(i32),
}

impl DomainState {
    pub fn from_code(c: i32) -> DomainState {
        match c {
            0 => DomainState::NoState,
            1 => DomainState::Running,
            2 => DomainState::Blocked,
            3 => DomainState::Paused,
            4 => DomainState::Shutdown,
            5 => DomainState::Shutoff,
            6 => DomainState::Crashed,
            7 => DomainState::PmSuspended,
            n => DomainState::Unknown(n),
        }
    }

    /// The name `virsh domstate` prints.
    pub fn as_str(&self) -> &'static str {
        match self {
            DomainState::NoState => "no state",
            DomainState::Running => "running",
            DomainState::Blocked => "idle",
            DomainState::Paused => "paused",
            DomainState::Shutdown => "in shutdown",
            DomainState::Shutoff => "shut off",
            DomainState::Crashed => "crashed",
            DomainState::PmSuspended => "pmsuspended",
            DomainState::Unknown(_) => "unknown",
        }
    }
}

/// `remote_domain_get_info_ret` (memory in KiB, CPU time in ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DomainInfo {
    pub state: DomainState,
    pub max_memory_kib: u64,
    pub memory_kib: u64,
    pub vcpus: u32,
    pub cpu_time_ns: u64,
}

impl DomainInfo {
    pub fn decode(d: &mut Decoder<'_>) -> Result<DomainInfo, XdrError> {
        // `unsigned char` and `unsigned short` travel as 4-byte words.
        Ok(DomainInfo {
            state: DomainState::from_code(d.u32()? as i32),
            max_memory_kib: d.u64()?,
            memory_kib: d.u64()?,
            vcpus: d.u32()?,
            cpu_time_ns: d.u64()?,
        })
    }
}

/// `remote_storage_vol_get_info_ret` (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolInfo {
    /// `virStorageVolType`: 0 file, 1 block, 2 dir, 3 network, 4 netdir, 5 ploop.
    pub kind: i32,
    pub capacity: u64,
    pub allocation: u64,
}

impl VolInfo {
    pub fn decode(d: &mut Decoder<'_>) -> Result<VolInfo, XdrError> {
        Ok(VolInfo {
            kind: d.i32()?,
            capacity: d.u64()?,
            allocation: d.u64()?,
        })
    }
}

/// `remote_network_dhcp_lease`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpLease {
    pub iface: String,
    /// Seconds since the epoch.
    pub expiry_time: i64,
    /// `virIPAddrType`: 0 IPv4, 1 IPv6.
    pub kind: i32,
    pub mac: Option<String>,
    pub iaid: Option<String>,
    pub ip_address: String,
    pub prefix: u32,
    pub hostname: Option<String>,
    pub client_id: Option<String>,
}

impl DhcpLease {
    fn decode(d: &mut Decoder<'_>) -> Result<DhcpLease, XdrError> {
        Ok(DhcpLease {
            iface: d.string()?,
            expiry_time: d.i64()?,
            kind: d.i32()?,
            mac: d.opt_string()?,
            iaid: d.opt_string()?,
            ip_address: d.string()?,
            prefix: d.u32()?,
            hostname: d.opt_string()?,
            client_id: d.opt_string()?,
        })
    }

    /// The `leases` array and `ret` count of `remote_network_get_dhcp_leases_ret`.
    pub fn decode_list(d: &mut Decoder<'_>) -> Result<Vec<DhcpLease>, XdrError> {
        let n = d.array_len(NETWORK_DHCP_LEASES_MAX)?;
        let leases = (0..n)
            .map(|_| DhcpLease::decode(d))
            .collect::<Result<Vec<_>, _>>()?;
        d.u32()?;
        Ok(leases)
    }
}

/// `remote_domain_ip_addr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpAddress {
    /// 0 IPv4, 1 IPv6.
    pub kind: i32,
    pub address: String,
    pub prefix: u32,
}

/// `remote_domain_interface`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInterface {
    pub name: String,
    pub hwaddr: Option<String>,
    pub addresses: Vec<IpAddress>,
}

impl DomainInterface {
    pub fn decode_list(d: &mut Decoder<'_>) -> Result<Vec<DomainInterface>, XdrError> {
        let n = d.array_len(DOMAIN_INTERFACE_MAX)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let name = d.string()?;
            let hwaddr = d.opt_string()?;
            let m = d.array_len(DOMAIN_IP_ADDR_MAX)?;
            let addresses = (0..m)
                .map(|_| {
                    Ok(IpAddress {
                        kind: d.i32()?,
                        address: d.string()?,
                        prefix: d.u32()?,
                    })
                })
                .collect::<Result<Vec<_>, XdrError>>()?;
            out.push(DomainInterface {
                name,
                hwaddr,
                addresses,
            });
        }
        Ok(out)
    }
}

/// `remote_auth_list_ret`.
pub fn decode_auth_list(d: &mut Decoder<'_>) -> Result<Vec<i32>, XdrError> {
    let n = d.array_len(AUTH_TYPE_LIST_MAX)?;
    (0..n).map(|_| d.i32()).collect()
}

/// Where `DOMAIN_INTERFACE_ADDRESSES` looks (`virDomainInterfaceAddressesSource`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// The DHCP leases of the domain's libvirt network.
    Lease = 0,
    /// The guest agent.
    Agent = 1,
    /// The host's ARP table.
    Arp = 2,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_print_and_parse_in_libvirts_form() {
        let u = Uuid::parse("4dea22b3-1d52-d8f3-2516-782e98ab3fa0").unwrap();
        assert_eq!(u.to_string(), "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
        assert_eq!(Uuid::parse("4dea22b31d52d8f32516782e98ab3fa0"), Some(u));
        assert_eq!(Uuid::parse("not-a-uuid"), None);
        assert_eq!(Uuid::parse("4dea22b3-1d52-d8f3-2516-782e98ab3fa"), None);
    }

    #[test]
    fn handles_round_trip() {
        let dom = Domain {
            name: "guest".into(),
            uuid: Uuid([7; 16]),
            id: -1,
        };
        let vol = StorageVol {
            pool: "default".into(),
            name: "a.qcow2".into(),
            key: "/var/lib/libvirt/images/a.qcow2".into(),
        };
        let mut e = Encoder::new();
        dom.encode(&mut e);
        vol.encode(&mut e);
        let b = e.into_bytes();
        // name (4 + 8) + uuid 16 + id 4.
        assert_eq!(&b[28..32], &[0xff; 4]);
        let mut d = Decoder::new(&b);
        assert_eq!(Domain::decode(&mut d).unwrap(), dom);
        assert_eq!(StorageVol::decode(&mut d).unwrap(), vol);
        d.finish().unwrap();
    }

    #[test]
    fn domain_info_reads_narrow_fields_as_words() {
        let mut e = Encoder::new();
        e.u32(1).u64(4 << 20).u64(2 << 20).u32(2).u64(99);
        let b = e.into_bytes();
        let info = DomainInfo::decode(&mut Decoder::new(&b)).unwrap();
        assert_eq!(info.state, DomainState::Running);
        assert_eq!(info.max_memory_kib, 4 << 20);
        assert_eq!(info.vcpus, 2);
    }

    #[test]
    fn leases_and_interfaces_decode() {
        let mut e = Encoder::new();
        e.u32(1)
            .string("virbr0")
            .i64(1_800_000_000)
            .i32(0)
            .opt_string(Some("52:54:00:00:00:01"))
            .opt_string(None)
            .string("192.168.122.10")
            .u32(24)
            .opt_string(Some("guest"))
            .opt_string(None)
            .u32(1);
        let b = e.into_bytes();
        let mut d = Decoder::new(&b);
        let leases = DhcpLease::decode_list(&mut d).unwrap();
        d.finish().unwrap();
        assert_eq!(leases[0].ip_address, "192.168.122.10");
        assert_eq!(leases[0].mac.as_deref(), Some("52:54:00:00:00:01"));

        let mut e = Encoder::new();
        e.u32(1)
            .string("vnet0")
            .opt_string(Some("52:54:00:00:00:01"))
            .u32(1)
            .i32(0)
            .string("192.168.122.10")
            .u32(24);
        let b = e.into_bytes();
        let ifaces = DomainInterface::decode_list(&mut Decoder::new(&b)).unwrap();
        assert_eq!(ifaces[0].addresses[0].address, "192.168.122.10");
    }
}
