//! libvirt's packet layer as the emulator serves it (virnetprotocol.x): length-prefixed
//! packets with a 24-byte header, `remote_error` payloads, and the procedure numbers of
//! remote_protocol.x the emulated host answers.

use tokio::io::{AsyncRead, AsyncReadExt};

use super::xdr::Out;

pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
pub const PING: i32 = 1;
pub const PONG: i32 = 2;

pub const CALL: i32 = 0;
pub const REPLY: i32 = 1;
pub const MESSAGE: i32 = 2;
pub const STREAM: i32 = 3;

pub const OK: i32 = 0;
pub const ERROR: i32 = 1;
pub const CONTINUE: i32 = 2;

/// virnetprotocol.x `VIR_NET_MESSAGE_MAX`.
const MAX_PACKET: usize = 33_554_432;

#[derive(Clone, Copy, Debug)]
pub struct Head {
    pub prog: u32,
    pub vers: u32,
    pub proc_: i32,
    pub kind: i32,
    pub serial: u32,
    pub status: i32,
}

pub fn packet(h: Head, body: &[u8]) -> Vec<u8> {
    let mut o = Out::default();
    o.word((28 + body.len()) as u32)
        .word(h.prog)
        .word(h.vers)
        .int(h.proc_)
        .int(h.kind)
        .word(h.serial)
        .int(h.status);
    o.0.extend_from_slice(body);
    o.0
}

/// One packet, `None` at end of stream.
pub async fn read_packet<R: AsyncRead + Unpin>(
    r: &mut R,
) -> std::io::Result<Option<(Head, Vec<u8>)>> {
    let mut len = [0u8; 4];
    if let Err(e) = r.read_exact(&mut len).await {
        return if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Ok(None)
        } else {
            Err(e)
        };
    }
    let len = u32::from_be_bytes(len) as usize;
    if !(28..=MAX_PACKET + 4).contains(&len) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("packet length {len}"),
        ));
    }
    let mut buf = vec![0u8; len - 4];
    r.read_exact(&mut buf).await?;
    let w = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
    let head = Head {
        prog: w(0),
        vers: w(4),
        proc_: w(8) as i32,
        kind: w(12) as i32,
        serial: w(16),
        status: w(20) as i32,
    };
    Ok(Some((head, buf[24..].to_vec())))
}

/// An error as libvirt reports it: `virErrorNumber`, `virErrorDomain`, message.
#[derive(Debug, Clone)]
pub struct RpcError {
    pub code: i32,
    pub domain: i32,
    pub message: String,
}

/// `virErrorNumber` (libvirt's include/libvirt/virterror.h).
pub mod code {
    pub const INTERNAL_ERROR: i32 = 1;
    pub const NO_CONNECT: i32 = 5;
    pub const NO_SUPPORT: i32 = 3;
    pub const INVALID_ARG: i32 = 8;
    pub const XML_ERROR: i32 = 27;
    pub const RPC: i32 = 39;
    pub const NO_DOMAIN: i32 = 42;
    pub const NO_NETWORK: i32 = 43;
    pub const NO_STORAGE_POOL: i32 = 49;
    pub const NO_STORAGE_VOL: i32 = 50;
    pub const OPERATION_INVALID: i32 = 55;
    pub const STORAGE_VOL_EXIST: i32 = 90;
}

/// `virErrorDomain`.
pub mod from {
    pub const RPC: i32 = 7;
    pub const QEMU: i32 = 10;
    pub const REMOTE: i32 = 13;
    pub const STORAGE: i32 = 18;
    pub const NETWORK: i32 = 19;
}

impl RpcError {
    pub fn new(code: i32, domain: i32, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            domain,
            message: message.into(),
        }
    }

    /// `virNetMessageError` with level `VIR_ERR_ERROR` (2).
    pub fn encode(&self) -> Vec<u8> {
        let mut o = Out::default();
        o.int(self.code)
            .int(self.domain)
            .maybe_str(Some(&self.message))
            .int(2)
            .word(0)
            .maybe_str(None)
            .maybe_str(None)
            .maybe_str(None)
            .int(0)
            .int(0)
            .word(0);
        o.0
    }
}

/// remote_protocol.x `enum remote_procedure`: the procedures the emulated host answers.
pub mod proc_ {
    pub const CONNECT_OPEN: i32 = 1;
    pub const CONNECT_CLOSE: i32 = 2;
    pub const CONNECT_GET_VERSION: i32 = 4;
    pub const NODE_GET_INFO: i32 = 6;
    pub const CONNECT_GET_CAPABILITIES: i32 = 7;
    pub const DOMAIN_CREATE: i32 = 9;
    pub const DOMAIN_DEFINE_XML: i32 = 11;
    pub const DOMAIN_DESTROY: i32 = 12;
    pub const DOMAIN_GET_XML_DESC: i32 = 14;
    pub const DOMAIN_GET_AUTOSTART: i32 = 15;
    pub const DOMAIN_GET_INFO: i32 = 16;
    pub const DOMAIN_GET_OS_TYPE: i32 = 19;
    pub const DOMAIN_LOOKUP_BY_ID: i32 = 22;
    pub const DOMAIN_LOOKUP_BY_NAME: i32 = 23;
    pub const DOMAIN_LOOKUP_BY_UUID: i32 = 24;
    pub const DOMAIN_SHUTDOWN: i32 = 33;
    pub const DOMAIN_UNDEFINE: i32 = 35;
    pub const NETWORK_GET_XML_DESC: i32 = 43;
    pub const NETWORK_LOOKUP_BY_NAME: i32 = 46;
    pub const CONNECT_GET_HOSTNAME: i32 = 59;
    pub const CONNECT_SUPPORTS_FEATURE: i32 = 60;
    pub const AUTH_LIST: i32 = 66;
    pub const STORAGE_POOL_REFRESH: i32 = 83;
    pub const STORAGE_POOL_LOOKUP_BY_NAME: i32 = 84;
    pub const STORAGE_POOL_LOOKUP_BY_UUID: i32 = 85;
    pub const STORAGE_POOL_LOOKUP_BY_VOLUME: i32 = 86;
    pub const STORAGE_POOL_GET_INFO: i32 = 87;
    pub const STORAGE_POOL_GET_XML_DESC: i32 = 88;
    pub const STORAGE_VOL_CREATE_XML: i32 = 93;
    pub const STORAGE_VOL_DELETE: i32 = 94;
    pub const STORAGE_VOL_LOOKUP_BY_NAME: i32 = 95;
    pub const STORAGE_VOL_LOOKUP_BY_PATH: i32 = 97;
    pub const STORAGE_VOL_GET_INFO: i32 = 98;
    pub const STORAGE_VOL_GET_XML_DESC: i32 = 99;
    pub const STORAGE_VOL_GET_PATH: i32 = 100;
    pub const CONNECT_GET_URI: i32 = 110;
    pub const NODE_GET_SECURITY_MODEL: i32 = 122;
    pub const STORAGE_VOL_CREATE_XML_FROM: i32 = 125;
    pub const DOMAIN_IS_ACTIVE: i32 = 150;
    pub const DOMAIN_IS_PERSISTENT: i32 = 151;
    pub const NETWORK_IS_ACTIVE: i32 = 152;
    pub const STORAGE_POOL_IS_ACTIVE: i32 = 154;
    pub const CONNECT_GET_LIB_VERSION: i32 = 157;
    pub const DOMAIN_HAS_MANAGED_SAVE_IMAGE: i32 = 183;
    pub const DOMAIN_CREATE_WITH_FLAGS: i32 = 196;
    pub const DOMAIN_OPEN_CONSOLE: i32 = 201;
    pub const STORAGE_VOL_UPLOAD: i32 = 208;
    pub const STORAGE_VOL_DOWNLOAD: i32 = 209;
    pub const DOMAIN_GET_STATE: i32 = 212;
    pub const DOMAIN_UNDEFINE_FLAGS: i32 = 231;
    pub const DOMAIN_DESTROY_FLAGS: i32 = 234;
    pub const DOMAIN_SHUTDOWN_FLAGS: i32 = 258;
    pub const CONNECT_LIST_ALL_DOMAINS: i32 = 273;
    pub const CONNECT_LIST_ALL_STORAGE_POOLS: i32 = 281;
    pub const STORAGE_POOL_LIST_ALL_VOLUMES: i32 = 282;
    pub const CONNECT_LIST_ALL_NETWORKS: i32 = 283;
    pub const NETWORK_GET_DHCP_LEASES: i32 = 341;
    pub const CONNECT_GET_DOMAIN_CAPABILITIES: i32 = 342;
    pub const DOMAIN_DEFINE_XML_FLAGS: i32 = 350;
    pub const DOMAIN_INTERFACE_ADDRESSES: i32 = 353;
}
