//! The emulator's own XDR reader and writer (it shares no code with the provider's
//! client): big-endian words, length-prefixed opaque data and strings padded to 4 bytes,
//! optional values behind a presence word.

/// A request the emulator cannot decode.
#[derive(Debug)]
pub struct Malformed(pub String);

#[derive(Default)]
pub struct Out(pub Vec<u8>);

impl Out {
    pub fn word(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn int(&mut self, v: i32) -> &mut Self {
        self.word(v as u32)
    }
    pub fn hyper(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    pub fn bytes_fixed(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        let pad = (4 - b.len() % 4) % 4;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.word(b.len() as u32).bytes_fixed(b)
    }
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }
    pub fn maybe_str(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.word(1).str(s),
            None => self.word(0),
        }
    }
}

pub struct In<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> In<'a> {
    pub fn new(data: &'a [u8]) -> In<'a> {
        In { data, at: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.data.len() - self.at < n {
            return Err(Malformed(format!(
                "truncated arguments at byte {}",
                self.at
            )));
        }
        let s = &self.data[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }

    pub fn word(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn int(&mut self) -> Result<i32, Malformed> {
        Ok(self.word()? as i32)
    }
    pub fn hyper(&mut self) -> Result<u64, Malformed> {
        Ok((u64::from(self.word()?) << 32) | u64::from(self.word()?))
    }
    pub fn bytes_fixed(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let b = self.take(n)?;
        self.take((4 - n % 4) % 4)?;
        Ok(b)
    }
    pub fn bytes(&mut self) -> Result<&'a [u8], Malformed> {
        let n = self.word()? as usize;
        if n > 4 * 1024 * 1024 {
            return Err(Malformed(format!(
                "string of {n} bytes exceeds REMOTE_STRING_MAX"
            )));
        }
        self.bytes_fixed(n)
    }
    pub fn str(&mut self) -> Result<String, Malformed> {
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| Malformed("string is not UTF-8".into()))
    }
    pub fn maybe_str(&mut self) -> Result<Option<String>, Malformed> {
        match self.word()? {
            0 => Ok(None),
            1 => self.str().map(Some),
            n => Err(Malformed(format!("optional flag {n}"))),
        }
    }
    pub fn end(&self) -> Result<(), Malformed> {
        if self.at == self.data.len() {
            Ok(())
        } else {
            Err(Malformed(format!(
                "{} bytes after the arguments",
                self.data.len() - self.at
            )))
        }
    }
}
