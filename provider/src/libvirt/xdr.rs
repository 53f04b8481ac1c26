//! XDR (RFC 4506) as libvirt's remote protocol uses it: big-endian 4-byte units, variable
//! opaque data and strings padded to 4 bytes, optional values as a bool then the value.
//!
//! [`Encoder`] writes into a growing buffer; [`Decoder`] reads from a slice and refuses
//! anything that would run past it or past the protocol's limits, so a hostile server
//! cannot make us allocate more than it sent.

use std::fmt;

/// A payload that does not decode as the type we expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdrError(pub String);

impl fmt::Display for XdrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed XDR: {}", self.0)
    }
}

impl std::error::Error for XdrError {}

/// libvirt's `REMOTE_STRING_MAX` (and `VIR_NET_MESSAGE_STRING_MAX`): 4 MiB.
pub const STRING_MAX: usize = 4_194_304;

/// Writes XDR into a buffer.
#[derive(Debug, Default, Clone)]
pub struct Encoder {
    buf: Vec<u8>,
}

impl Encoder {
    pub fn new() -> Encoder {
        Encoder::default()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// XDR `hyper`.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    /// XDR `unsigned hyper`.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.u32(u32::from(v))
    }

    /// Fixed-length opaque data (`opaque x[N]`): the bytes, padded.
    pub fn fixed_opaque(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self.pad(v.len())
    }

    /// Variable-length opaque data (`opaque x<N>`): length, bytes, padding.
    pub fn opaque(&mut self, v: &[u8]) -> &mut Self {
        self.u32(v.len() as u32);
        self.fixed_opaque(v)
    }

    /// `remote_nonnull_string`.
    pub fn string(&mut self, v: &str) -> &mut Self {
        self.opaque(v.as_bytes())
    }

    /// `remote_string` (a pointer to a string: absent or present).
    pub fn opt_string(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            None => self.bool(false),
            Some(s) => self.bool(true).string(s),
        }
    }

    fn pad(&mut self, len: usize) -> &mut Self {
        let padding = (4 - len % 4) % 4;
        self.buf.extend_from_slice(&[0u8; 3][..padding]);
        self
    }
}

/// Reads XDR from a byte slice.
#[derive(Debug, Clone)]
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless every byte was read: a reply longer than its type is a protocol
    /// mismatch, not something to ignore.
    pub fn finish(&self) -> Result<(), XdrError> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(XdrError(format!(
                "{} unexpected trailing bytes",
                self.remaining()
            )))
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], XdrError> {
        if self.remaining() < n {
            return Err(XdrError(format!(
                "needed {n} bytes at offset {}, only {} left",
                self.pos,
                self.remaining()
            )));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn word(&mut self) -> Result<[u8; 4], XdrError> {
        let b = self.take(4)?;
        Ok([b[0], b[1], b[2], b[3]])
    }

    pub fn u32(&mut self) -> Result<u32, XdrError> {
        Ok(u32::from_be_bytes(self.word()?))
    }

    pub fn i32(&mut self) -> Result<i32, XdrError> {
        Ok(i32::from_be_bytes(self.word()?))
    }

    pub fn i64(&mut self) -> Result<i64, XdrError> {
        let b = self.take(8)?;
        Ok(i64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    pub fn u64(&mut self) -> Result<u64, XdrError> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().expect("8 bytes")))
    }

    pub fn bool(&mut self) -> Result<bool, XdrError> {
        match self.u32()? {
            0 => Ok(false),
            1 => Ok(true),
            n => Err(XdrError(format!("boolean {n} is neither 0 nor 1"))),
        }
    }

    pub fn fixed_opaque(&mut self, len: usize) -> Result<&'a [u8], XdrError> {
        let v = self.take(len)?;
        self.skip_pad(len)?;
        Ok(v)
    }

    /// Variable-length opaque data of at most `max` bytes.
    pub fn opaque(&mut self, max: usize) -> Result<&'a [u8], XdrError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(XdrError(format!("length {len} exceeds the limit {max}")));
        }
        self.fixed_opaque(len)
    }

    pub fn string(&mut self) -> Result<String, XdrError> {
        let b = self.opaque(STRING_MAX)?;
        String::from_utf8(b.to_vec()).map_err(|_| XdrError("string is not UTF-8".into()))
    }

    pub fn opt_string(&mut self) -> Result<Option<String>, XdrError> {
        if self.bool()? {
            self.string().map(Some)
        } else {
            Ok(None)
        }
    }

    /// The element count of a variable-length array of at most `max` elements. Each element
    /// takes at least 4 bytes, so a count larger than the rest of the buffer allows is
    /// refused before anything is allocated for it.
    pub fn array_len(&mut self, max: usize) -> Result<usize, XdrError> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(XdrError(format!("array of {len} exceeds the limit {max}")));
        }
        if len > self.remaining() / 4 {
            return Err(XdrError(format!(
                "array of {len} is longer than the message"
            )));
        }
        Ok(len)
    }

    fn skip_pad(&mut self, len: usize) -> Result<(), XdrError> {
        let padding = (4 - len % 4) % 4;
        let pad = self.take(padding)?;
        if pad.iter().any(|&b| b != 0) {
            return Err(XdrError("non-zero padding".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_big_endian_words() {
        let mut e = Encoder::new();
        e.u32(0x2000_8086).i32(-1).u64(1 << 40).i64(-2).bool(true);
        let b = e.into_bytes();
        assert_eq!(&b[..4], &[0x20, 0x00, 0x80, 0x86]);
        assert_eq!(&b[4..8], &[0xff; 4]);
        assert_eq!(&b[8..16], &[0, 0, 1, 0, 0, 0, 0, 0]);
        let mut d = Decoder::new(&b);
        assert_eq!(d.u32().unwrap(), 0x2000_8086);
        assert_eq!(d.i32().unwrap(), -1);
        assert_eq!(d.u64().unwrap(), 1 << 40);
        assert_eq!(d.i64().unwrap(), -2);
        assert!(d.bool().unwrap());
        d.finish().unwrap();
    }

    #[test]
    fn strings_are_length_prefixed_and_padded_to_four_bytes() {
        let mut e = Encoder::new();
        e.string("qemu:///system");
        let b = e.into_bytes();
        // 4 (length) + 14 + 2 padding.
        assert_eq!(b.len(), 20);
        assert_eq!(&b[..4], &[0, 0, 0, 14]);
        assert_eq!(&b[18..], &[0, 0]);
        let mut d = Decoder::new(&b);
        assert_eq!(d.string().unwrap(), "qemu:///system");
        d.finish().unwrap();
    }

    #[test]
    fn optional_strings_carry_a_presence_flag() {
        let mut e = Encoder::new();
        e.opt_string(None).opt_string(Some("a"));
        let b = e.into_bytes();
        assert_eq!(b, [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, b'a', 0, 0, 0]);
        let mut d = Decoder::new(&b);
        assert_eq!(d.opt_string().unwrap(), None);
        assert_eq!(d.opt_string().unwrap().as_deref(), Some("a"));
    }

    #[test]
    fn truncated_and_oversized_input_is_refused() {
        assert!(Decoder::new(&[0, 0, 0]).u32().is_err());
        // A string claiming 5 bytes with only 4 present.
        assert!(Decoder::new(&[0, 0, 0, 5, b'a', b'b', b'c', b'd'])
            .string()
            .is_err());
        // An array claiming a billion elements in an 8-byte message.
        assert!(Decoder::new(&[0x3b, 0x9a, 0xca, 0, 0, 0, 0, 0])
            .array_len(usize::MAX)
            .is_err());
        assert!(Decoder::new(&[0, 0, 0, 3]).array_len(2).is_err());
        assert!(Decoder::new(&[0, 0, 0, 2]).bool().is_err());
        assert!(Decoder::new(&[0, 0, 0, 1, b'a', 1, 0, 0]).string().is_err());
        let d = Decoder::new(&[0; 4]);
        assert!(d.finish().is_err());
    }
}
