//! libvirt's RPC packets (virnetprotocol.x): a 4-byte length that counts itself, a 24-byte
//! header (program, version, procedure, type, serial, status) and the payload, whose
//! meaning depends on the type and status (XDR arguments or results, a `remote_error`,
//! or raw stream bytes).

use std::fmt;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::xdr::{Decoder, Encoder, XdrError};

/// `REMOTE_PROGRAM`: the libvirtd remote program.
pub const REMOTE_PROGRAM: u32 = 0x2000_8086;
pub const REMOTE_PROTOCOL_VERSION: u32 = 1;
/// `KEEPALIVE_PROGRAM` ("keep" in ASCII).
pub const KEEPALIVE_PROGRAM: u32 = 0x6b65_6570;
pub const KEEPALIVE_PROTOCOL_VERSION: u32 = 1;
pub const KEEPALIVE_PROC_PING: i32 = 1;
pub const KEEPALIVE_PROC_PONG: i32 = 2;

/// `VIR_NET_MESSAGE_MAX`: the largest packet, header included (length word excluded).
pub const MESSAGE_MAX: usize = 33_554_432;
/// `VIR_NET_MESSAGE_HEADER_MAX`.
pub const HEADER_LEN: usize = 24;
/// The largest stream data payload we send in one packet (libvirt's own client sends
/// 256 KiB chunks; the limit is `VIR_NET_MESSAGE_PAYLOAD_MAX`).
pub const STREAM_CHUNK: usize = 256 * 1024;

/// `virNetMessageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Call,
    Reply,
    Message,
    Stream,
    CallWithFds,
    ReplyWithFds,
    StreamHole,
}

impl MessageType {
    fn code(self) -> i32 {
        match self {
            MessageType::Call => 0,
            MessageType::Reply => 1,
            MessageType::Message => 2,
            MessageType::Stream => 3,
            MessageType::CallWithFds => 4,
            MessageType::ReplyWithFds => 5,
            MessageType::StreamHole => 6,
        }
    }

    fn from_code(c: i32) -> Result<MessageType, XdrError> {
        Ok(match c {
            0 => MessageType::Call,
            1 => MessageType::Reply,
            2 => MessageType::Message,
            3 => MessageType::Stream,
            4 => MessageType::CallWithFds,
            5 => MessageType::ReplyWithFds,
            6 => MessageType::StreamHole,
            n => return Err(XdrError(format!("unknown message type {n}"))),
        })
    }
}

/// `virNetMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Error,
    Continue,
}

impl Status {
    fn code(self) -> i32 {
        match self {
            Status::Ok => 0,
            Status::Error => 1,
            Status::Continue => 2,
        }
    }

    fn from_code(c: i32) -> Result<Status, XdrError> {
        Ok(match c {
            0 => Status::Ok,
            1 => Status::Error,
            2 => Status::Continue,
            n => return Err(XdrError(format!("unknown message status {n}"))),
        })
    }
}

/// `virNetMessageHeader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub program: u32,
    pub version: u32,
    pub procedure: i32,
    pub kind: MessageType,
    pub serial: u32,
    pub status: Status,
}

impl Header {
    /// A call to the remote program.
    pub fn call(procedure: i32, serial: u32) -> Header {
        Header {
            program: REMOTE_PROGRAM,
            version: REMOTE_PROTOCOL_VERSION,
            procedure,
            kind: MessageType::Call,
            serial,
            status: Status::Ok,
        }
    }

    /// A stream packet of the call `procedure`/`serial`.
    pub fn stream(procedure: i32, serial: u32, status: Status) -> Header {
        Header {
            kind: MessageType::Stream,
            status,
            ..Header::call(procedure, serial)
        }
    }

    /// A keepalive message (PING or PONG); keepalive messages have serial 0.
    pub fn keepalive(procedure: i32) -> Header {
        Header {
            program: KEEPALIVE_PROGRAM,
            version: KEEPALIVE_PROTOCOL_VERSION,
            procedure,
            kind: MessageType::Message,
            serial: 0,
            status: Status::Ok,
        }
    }
}

/// One whole packet: header and payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub header: Header,
    pub payload: Vec<u8>,
}

impl Packet {
    /// The bytes on the wire, length word first.
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(&self.header, &self.payload)
    }

    /// Parses a packet read by [`read_frame`] (without its length word).
    pub fn decode(frame: &[u8]) -> Result<Packet, XdrError> {
        let mut d = Decoder::new(frame);
        let header = Header {
            program: d.u32()?,
            version: d.u32()?,
            procedure: d.i32()?,
            kind: MessageType::from_code(d.i32()?)?,
            serial: d.u32()?,
            status: Status::from_code(d.i32()?)?,
        };
        Ok(Packet {
            header,
            payload: frame[HEADER_LEN..].to_vec(),
        })
    }
}

/// Length word, header and payload as one buffer.
pub fn encode_frame(h: &Header, payload: &[u8]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.u32((4 + HEADER_LEN + payload.len()) as u32)
        .u32(h.program)
        .u32(h.version)
        .i32(h.procedure)
        .i32(h.kind.code())
        .u32(h.serial)
        .i32(h.status.code());
    let mut b = e.into_bytes();
    b.extend_from_slice(payload);
    b
}

/// Reads one packet's bytes (header and payload, without the length word). `Ok(None)`
/// at a clean end of stream between packets.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes(len) as usize;
    if !(4 + HEADER_LEN..=4 + MESSAGE_MAX).contains(&len) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "libvirt packet length {len} is outside 28..={}",
                4 + MESSAGE_MAX
            ),
        ));
    }
    let mut frame = vec![0u8; len - 4];
    r.read_exact(&mut frame).await?;
    Ok(Some(frame))
}

/// `virNetMessageError` / `remote_error`: what a failed call or stream reports. Only the
/// fields worth showing a user are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteError {
    /// `virErrorNumber`, e.g. 42 `VIR_ERR_NO_DOMAIN`.
    pub code: i32,
    /// `virErrorDomain`: the part of libvirt that raised it.
    pub domain: i32,
    pub message: Option<String>,
    pub level: i32,
}

/// `virErrorNumber` values the client acts on.
pub mod error_code {
    pub const INTERNAL_ERROR: i32 = 1;
    pub const NO_SUPPORT: i32 = 3;
    pub const OPERATION_FAILED: i32 = 9;
    pub const XML_ERROR: i32 = 27;
    pub const DOM_EXIST: i32 = 28;
    pub const RPC: i32 = 39;
    pub const NO_DOMAIN: i32 = 42;
    pub const NO_NETWORK: i32 = 43;
    pub const NO_STORAGE_POOL: i32 = 49;
    pub const NO_STORAGE_VOL: i32 = 50;
    pub const OPERATION_INVALID: i32 = 55;
    pub const STORAGE_VOL_EXIST: i32 = 90;
}

impl RemoteError {
    pub fn decode(payload: &[u8]) -> Result<RemoteError, XdrError> {
        let mut d = Decoder::new(payload);
        let code = d.i32()?;
        let domain = d.i32()?;
        let message = d.opt_string()?;
        let level = d.i32()?;
        // dom (unused by libvirt: always absent in practice, decoded for correctness)
        if d.bool()? {
            d.string()?;
            d.fixed_opaque(16)?;
            d.i32()?;
        }
        d.opt_string()?;
        d.opt_string()?;
        d.opt_string()?;
        d.i32()?;
        d.i32()?;
        if d.bool()? {
            d.string()?;
            d.fixed_opaque(16)?;
        }
        d.finish()?;
        Ok(RemoteError {
            code,
            domain,
            message,
            level,
        })
    }

    /// The error as libvirt encodes it (used by tests standing in for a server).
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        e.i32(self.code)
            .i32(self.domain)
            .opt_string(self.message.as_deref())
            .i32(self.level)
            .bool(false)
            .opt_string(None)
            .opt_string(None)
            .opt_string(None)
            .i32(0)
            .i32(0)
            .bool(false);
        e.into_bytes()
    }

    /// The object the call named does not exist (domain, network, pool or volume).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self.code,
            error_code::NO_DOMAIN
                | error_code::NO_NETWORK
                | error_code::NO_STORAGE_POOL
                | error_code::NO_STORAGE_VOL
        )
    }
}

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.message {
            Some(m) => write!(f, "{m} (libvirt error {})", self.code),
            None => write!(f, "libvirt error {}", self.code),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_frame_matches_the_documented_layout() {
        // rpc.rst: program 8, version 1, procedure 3, call, serial 1, ok, 10-byte args
        // (here 12, XDR-aligned): length = 4 + 24 + 12.
        let h = Header {
            program: 8,
            version: 1,
            procedure: 3,
            kind: MessageType::Call,
            serial: 1,
            status: Status::Ok,
        };
        let b = encode_frame(&h, &[7; 12]);
        assert_eq!(b.len(), 40);
        assert_eq!(&b[..4], &[0, 0, 0, 40]);
        assert_eq!(
            &b[4..28],
            &[0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
        );
        let p = Packet::decode(&b[4..]).unwrap();
        assert_eq!(p.header, h);
        assert_eq!(p.payload, vec![7; 12]);
    }

    #[tokio::test]
    async fn frames_are_read_one_at_a_time_and_bad_lengths_refused() {
        let mut wire = Packet {
            header: Header::keepalive(KEEPALIVE_PROC_PING),
            payload: vec![],
        }
        .encode();
        wire.extend(encode_frame(
            &Header::stream(209, 5, Status::Continue),
            b"data",
        ));
        let mut r = &wire[..];
        let first = Packet::decode(&read_frame(&mut r).await.unwrap().unwrap()).unwrap();
        assert_eq!(first.header.program, KEEPALIVE_PROGRAM);
        assert_eq!(first.header.kind, MessageType::Message);
        let second = Packet::decode(&read_frame(&mut r).await.unwrap().unwrap()).unwrap();
        assert_eq!(second.header.status, Status::Continue);
        assert_eq!(second.payload, b"data");
        assert!(read_frame(&mut r).await.unwrap().is_none());

        let mut short: &[u8] = &[0, 0, 0, 8, 0, 0, 0, 0];
        assert!(read_frame(&mut short).await.is_err());
        let mut huge: &[u8] = &[0x7f, 0, 0, 0];
        assert!(read_frame(&mut huge).await.is_err());
        assert!(Packet::decode(&[0u8; 12]).is_err());
    }

    #[test]
    fn remote_errors_round_trip_and_classify() {
        let e = RemoteError {
            code: error_code::NO_DOMAIN,
            domain: 10,
            message: Some("Domain not found: no domain with matching name 'x'".into()),
            level: 2,
        };
        let back = RemoteError::decode(&e.encode()).unwrap();
        assert_eq!(back, e);
        assert!(back.is_not_found());
        assert_eq!(
            back.to_string(),
            "Domain not found: no domain with matching name 'x' (libvirt error 42)"
        );
        let mut bad = e.encode();
        bad.push(0);
        assert!(RemoteError::decode(&bad).is_err());
    }
}
