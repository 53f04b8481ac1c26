//! cty numbers: arbitrary precision, kept exact.
//!
//! Terraform numbers are arbitrary-precision decimals. The wire rule (go-cty) is: an exact
//! int64 travels as a msgpack int, else an exact float64 as a float64, else the decimal text
//! as a string. [`Number`] mirrors that split so a normalised number has exactly one
//! representation, which makes equality and round trips well defined:
//!
//! - [`Number::Int`] for every integer that fits an `i64`,
//! - [`Number::Float`] for every other value an `f64` holds *exactly* (including ±∞),
//! - [`Number::Big`] for everything else, as canonical decimal text.
//!
//! Decimal text is checked against a small grammar and converted with exact arithmetic
//! (never via a lossy `f64` round trip), so `"0.1"` stays `Big("0.1")` and `"1e3"` becomes
//! `Int(1000)`.

use std::fmt;

/// Largest decimal exponent (position of the decimal point) accepted in number text.
/// Terraform's own numbers (512-bit `big.Float`) overflow long before this; the bound keeps
/// hostile inputs like `1e999999999999` from turning into gigabytes of canonical text.
pub const MAX_DECIMAL_EXPONENT: i64 = 100_000_000;

/// Zero-padding up to which canonical text is written in plain notation (`0.000001`,
/// `1000…0`); beyond it scientific notation keeps the text short.
const MAX_PLAIN_PADDING: i64 = 32;

/// A cty number.
///
/// Values built with [`Number::parse`], [`Number::from_u64`], [`From<f64>`] or
/// [`Number::normalize`] are normalised as described in the module docs; hand-built
/// variants (e.g. `Number::Big("1".into())`) still compare equal to their normal form.
#[derive(Clone, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A finite decimal that is neither an exact i64 nor an exact f64, as canonical
    /// decimal text (e.g. `"123456789012345678901234567890"` or `"0.1000000000000000000001"`).
    Big(String),
}

/// Why number text or a float is not an acceptable cty number. Never contains the text
/// itself: numbers may come from sensitive attributes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("not a decimal number")]
    Invalid,
    #[error("decimal exponent beyond ±{MAX_DECIMAL_EXPONENT}")]
    OutOfRange,
    #[error("NaN is not a number in Terraform")]
    NaN,
}

impl Number {
    /// Parses decimal text (`-12`, `1.50`, `.5`, `1e3`, `+2.5E-7`) exactly and normalises it.
    /// Infinity and NaN spellings are rejected: cty's text form has neither.
    pub fn parse(text: &str) -> Result<Number, NumberError> {
        Decimal::parse(text).map(|d| d.into_number())
    }

    /// An unsigned integer, exact (beyond `i64::MAX` it becomes a float or big decimal).
    pub fn from_u64(v: u64) -> Number {
        match i64::try_from(v) {
            Ok(i) => Number::Int(i),
            Err(_) => Decimal {
                negative: false,
                digits: v.to_string().into_bytes(),
                exponent: 0,
            }
            .normalised(),
        }
    }

    /// The normal form of this number; `Float(NaN)` and malformed `Big` text are errors.
    pub fn normalize(&self) -> Result<Number, NumberError> {
        match self {
            Number::Int(i) => Ok(Number::Int(*i)),
            Number::Float(f) if f.is_nan() => Err(NumberError::NaN),
            Number::Float(f) => Ok(Number::from(*f)),
            Number::Big(text) => Number::parse(text),
        }
    }

    /// Exact decimal text (`None` for ±∞ and NaN, which have none). Integers have no
    /// fraction; floats are written with their full exact expansion so that parsing the
    /// text gives the very same number back.
    pub fn to_decimal_text(&self) -> Option<String> {
        match self.normalize().ok()? {
            Number::Int(i) => Some(i.to_string()),
            Number::Float(f) if f.is_infinite() => None,
            Number::Float(f) => Some(Decimal::from_finite_f64(f).render()),
            Number::Big(text) => Some(text),
        }
    }

    /// The value as an `i64` if it is exactly one.
    pub fn as_i64(&self) -> Option<i64> {
        match self.normalize().ok()? {
            Number::Int(i) => Some(i),
            _ => None,
        }
    }

    /// The nearest `f64` (lossy for big decimals; `None` for NaN or malformed text).
    pub fn to_f64_lossy(&self) -> Option<f64> {
        match self {
            Number::Int(i) => Some(*i as f64),
            Number::Float(f) if f.is_nan() => None,
            Number::Float(f) => Some(*f),
            Number::Big(text) => {
                let d = Decimal::parse(text).ok()?;
                d.to_f64_nearest()
            }
        }
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Number::Int(a), Number::Float(b)) | (Number::Float(b), Number::Int(a)) => {
                // Exact comparison: an i64 equals a float only if the float is that integer.
                exact_i64(*b) == Some(*a)
            }
            (Number::Big(a), Number::Big(b)) if a == b => true,
            // Hand-built big text may not be canonical: compare normal forms.
            (a, b) => match (a.normalize(), b.normalize()) {
                (Ok(Number::Big(x)), Ok(Number::Big(y))) => x == y,
                (Ok(Number::Big(_)), Ok(_)) | (Ok(_), Ok(Number::Big(_))) => false,
                // Neither is big any more, so this uses the exact arms above.
                (Ok(x), Ok(y)) => x == y,
                _ => false,
            },
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
            Number::Big(t) => f.write_str(t),
        }
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::Int(v)
    }
}

impl From<i32> for Number {
    fn from(v: i32) -> Self {
        Number::Int(v.into())
    }
}

impl From<u32> for Number {
    fn from(v: u32) -> Self {
        Number::Int(v.into())
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Self {
        Number::from_u64(v)
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Self {
        match exact_i64(v) {
            Some(i) => Number::Int(i),
            None => Number::Float(v),
        }
    }
}

/// The float as an `i64` if it is exactly one (2^63 itself is not).
fn exact_i64(f: f64) -> Option<i64> {
    let limit = (1u64 << 63) as f64;
    (f.fract() == 0.0 && (-limit..limit).contains(&f)).then_some(f as i64)
}

/// An exact decimal `±digits × 10^exponent`, with `digits` ASCII, free of leading and
/// trailing zeros (empty for zero).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    fn parse(text: &str) -> Result<Decimal, NumberError> {
        let bytes = text.as_bytes();
        let mut i = 0;
        let negative = match bytes.first() {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let int_start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let int_digits = &bytes[int_start..i];
        let mut frac_digits: &[u8] = &[];
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            frac_digits = &bytes[frac_start..i];
        }
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(NumberError::Invalid);
        }
        let mut exp_value: i64 = 0;
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match bytes.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let exp_start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                // Saturate: anything this large is rejected below anyway.
                exp_value = exp_value
                    .saturating_mul(10)
                    .saturating_add(i64::from(bytes[i] - b'0'))
                    .min(i64::MAX / 4);
                i += 1;
            }
            if i == exp_start {
                return Err(NumberError::Invalid);
            }
            if exp_negative {
                exp_value = -exp_value;
            }
        }
        if i != bytes.len() {
            return Err(NumberError::Invalid);
        }

        let frac_len = i64::try_from(frac_digits.len()).map_err(|_| NumberError::OutOfRange)?;
        let mut digits: Vec<u8> = Vec::with_capacity(int_digits.len() + frac_digits.len());
        digits.extend_from_slice(int_digits);
        digits.extend_from_slice(frac_digits);
        let leading = digits.iter().take_while(|&&d| d == b'0').count();
        digits.drain(..leading);
        let trailing = digits.iter().rev().take_while(|&&d| d == b'0').count();
        digits.truncate(digits.len() - trailing);
        if digits.is_empty() {
            return Ok(Decimal {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        let exponent = exp_value
            .checked_sub(frac_len)
            .and_then(|e| e.checked_add(trailing as i64))
            .ok_or(NumberError::OutOfRange)?;
        let point = exponent
            .checked_add(digits.len() as i64)
            .ok_or(NumberError::OutOfRange)?;
        if point.abs() > MAX_DECIMAL_EXPONENT {
            return Err(NumberError::OutOfRange);
        }
        Ok(Decimal {
            negative,
            digits,
            exponent,
        })
    }

    fn is_zero(&self) -> bool {
        self.digits.is_empty()
    }

    /// Position of the decimal point relative to the first digit (`123.4` → 3, `0.01` → -1).
    fn point(&self) -> i64 {
        self.digits.len() as i64 + self.exponent
    }

    fn into_number(self) -> Number {
        self.normalised()
    }

    fn normalised(&self) -> Number {
        if self.is_zero() {
            return Number::Int(0);
        }
        if let Some(i) = self.to_i64_exact() {
            return Number::Int(i);
        }
        if let Some(f) = self.to_f64_exact() {
            return Number::Float(f);
        }
        Number::Big(self.render())
    }

    fn to_i64_exact(&self) -> Option<i64> {
        if self.exponent < 0 || self.point() > 19 {
            return None;
        }
        let mut v: i128 = 0;
        for &d in &self.digits {
            v = v * 10 + i128::from(d - b'0');
        }
        for _ in 0..self.exponent {
            v *= 10;
        }
        if self.negative {
            v = -v;
        }
        i64::try_from(v).ok()
    }

    fn to_f64_nearest(&self) -> Option<f64> {
        if self.is_zero() {
            return Some(0.0);
        }
        let sign = if self.negative { "-" } else { "" };
        let digits = std::str::from_utf8(&self.digits).ok()?;
        format!("{sign}{digits}e{}", self.exponent).parse().ok()
    }

    fn to_f64_exact(&self) -> Option<f64> {
        // An f64's exact expansion has at most 767 significant digits and its point lies
        // within 10^-324 .. 10^309; outside that nothing can match.
        if self.digits.len() > 770 || !(-330..=310).contains(&self.point()) {
            return None;
        }
        let f = self.to_f64_nearest()?;
        if !f.is_finite() || f == 0.0 {
            return None;
        }
        (Decimal::from_finite_f64(f) == *self).then_some(f)
    }

    /// The exact decimal expansion of a finite float (every binary float is a finite decimal).
    fn from_finite_f64(f: f64) -> Decimal {
        let bits = f.to_bits();
        let negative = bits >> 63 == 1;
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1u64 << 52) - 1);
        let (mut mantissa, mut exp2) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | (1u64 << 52), biased - 1075)
        };
        if mantissa == 0 {
            return Decimal {
                negative: false,
                digits: Vec::new(),
                exponent: 0,
            };
        }
        while mantissa & 1 == 0 && exp2 < 0 {
            mantissa >>= 1;
            exp2 += 1;
        }
        let mut big = BigDigits::from_u64(mantissa);
        let exponent = if exp2 >= 0 {
            big.mul_pow(2, exp2 as u32);
            0
        } else {
            // m × 2^-k = m × 5^k × 10^-k
            big.mul_pow(5, (-exp2) as u32);
            exp2
        };
        let mut digits = big.to_decimal();
        let trailing = digits.iter().rev().take_while(|&&d| d == b'0').count();
        digits.truncate(digits.len() - trailing);
        Decimal {
            negative,
            digits,
            exponent: exponent + trailing as i64,
        }
    }

    /// Canonical text: plain notation unless that needs more than [`MAX_PLAIN_PADDING`]
    /// zeros, then `d.ddde±N`. Always valid JSON number text and valid cty number text.
    fn render(&self) -> String {
        if self.is_zero() {
            return "0".to_owned();
        }
        // Digits are ASCII by construction.
        let digits: String = self.digits.iter().map(|&d| d as char).collect();
        let mut out = String::with_capacity(digits.len() + 8);
        if self.negative {
            out.push('-');
        }
        let point = self.point();
        if self.exponent >= 0 && self.exponent <= MAX_PLAIN_PADDING {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', self.exponent as usize));
        } else if self.exponent < 0 && point > 0 {
            let (int, frac) = digits.split_at(point as usize);
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        } else if self.exponent < 0 && -point <= MAX_PLAIN_PADDING {
            out.push_str("0.");
            out.extend(std::iter::repeat_n('0', (-point) as usize));
            out.push_str(&digits);
        } else {
            let (first, rest) = digits.split_at(1);
            out.push_str(first);
            if !rest.is_empty() {
                out.push('.');
                out.push_str(rest);
            }
            out.push('e');
            out.push_str(&(point - 1).to_string());
        }
        out
    }
}

/// Just enough unsigned big-integer arithmetic to expand a float exactly: base 10^9 limbs,
/// least significant first.
struct BigDigits(Vec<u32>);

impl BigDigits {
    const BASE: u64 = 1_000_000_000;

    fn from_u64(mut v: u64) -> BigDigits {
        let mut limbs = Vec::new();
        while v > 0 {
            limbs.push((v % Self::BASE) as u32);
            v /= Self::BASE;
        }
        BigDigits(limbs)
    }

    fn mul_small(&mut self, factor: u32) {
        let mut carry: u64 = 0;
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = (product % Self::BASE) as u32;
            carry = product / Self::BASE;
        }
        while carry > 0 {
            self.0.push((carry % Self::BASE) as u32);
            carry /= Self::BASE;
        }
    }

    /// Multiplies by `base^power` (`base` is 2 or 5), in chunks that fit a u32.
    fn mul_pow(&mut self, base: u32, mut power: u32) {
        let chunk = if base == 2 { 29 } else { 13 };
        while power > 0 {
            let step = power.min(chunk);
            self.mul_small(base.pow(step));
            power -= step;
        }
    }

    fn to_decimal(&self) -> Vec<u8> {
        let mut out = String::new();
        for (i, limb) in self.0.iter().rev().enumerate() {
            if i == 0 {
                out.push_str(&limb.to_string());
            } else {
                out.push_str(&format!("{limb:09}"));
            }
        }
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_i64_range_become_int() {
        assert_eq!(Number::parse("42"), Ok(Number::Int(42)));
        assert!(matches!(Number::parse("-0"), Ok(Number::Int(0))));
        assert!(matches!(Number::parse("1e3"), Ok(Number::Int(1000))));
        assert!(matches!(Number::parse("1500e-1"), Ok(Number::Int(150))));
        assert!(matches!(Number::parse("+7.000"), Ok(Number::Int(7))));
        assert!(matches!(
            Number::parse("-9223372036854775808"),
            Ok(Number::Int(i64::MIN))
        ));
        assert!(matches!(
            Number::parse("9223372036854775807"),
            Ok(Number::Int(i64::MAX))
        ));
    }

    #[test]
    fn exact_binary_fractions_become_float() {
        assert!(matches!(Number::parse("1.50"), Ok(Number::Float(f)) if f == 1.5));
        assert!(matches!(Number::parse(".5"), Ok(Number::Float(f)) if f == 0.5));
        assert!(matches!(Number::parse("-0.125"), Ok(Number::Float(f)) if f == -0.125));
        // 2^63 is not an i64 but is an exact float.
        assert!(
            matches!(Number::parse("9223372036854775808"), Ok(Number::Float(f)) if f == (1u64 << 63) as f64)
        );
        // The exact expansion of the float nearest 0.1 is that float.
        let exact = Decimal::from_finite_f64(0.1).render();
        assert_eq!(
            exact,
            "0.1000000000000000055511151231257827021181583404541015625"
        );
        assert!(matches!(Number::parse(&exact), Ok(Number::Float(f)) if f == 0.1));
        // Smallest subnormal.
        let tiny = Decimal::from_finite_f64(f64::from_bits(1)).render();
        assert!(matches!(Number::parse(&tiny), Ok(Number::Float(f)) if f.to_bits() == 1));
    }

    #[test]
    fn inexact_decimals_stay_big_and_canonical() {
        assert_eq!(Number::parse("0.1"), Ok(Number::Big("0.1".into())));
        assert!(
            matches!(Number::parse("0.10"), Ok(Number::Big(t)) if t == "0.1"),
            "trailing zeros are dropped"
        );
        assert!(matches!(
            Number::parse("123456789012345678901234567890"),
            Ok(Number::Big(t)) if t == "123456789012345678901234567890"
        ));
        assert!(matches!(
            Number::parse("-00012345678901234567890.1000"),
            Ok(Number::Big(t)) if t == "-12345678901234567890.1"
        ));
        assert!(matches!(Number::parse("1e-7"), Ok(Number::Big(t)) if t == "0.0000001"));
        assert!(matches!(Number::parse("3e400"), Ok(Number::Big(t)) if t == "3e400"));
        assert!(matches!(Number::parse("-1.25e-400"), Ok(Number::Big(t)) if t == "-1.25e-400"));
    }

    #[test]
    fn rendered_text_parses_back_to_the_same_number() {
        for text in [
            "0.1",
            "3e400",
            "-1.25e-400",
            "12345678901234567890123",
            "1e-40",
            "1.000000000000000000000000001",
        ] {
            let n = Number::parse(text).unwrap();
            let again = Number::parse(&n.to_decimal_text().unwrap()).unwrap();
            assert_eq!(n, again, "{text}");
        }
    }

    #[test]
    fn malformed_text_is_rejected_without_echoing_it() {
        for bad in [
            "", "-", "+", ".", "1.2.3", "1e", "1e+", "e5", "0x10", "1_000", " 1", "1 ", "Inf",
            "NaN", "--1", "1e5x",
        ] {
            assert_eq!(Number::parse(bad), Err(NumberError::Invalid), "{bad:?}");
        }
        assert!(matches!(Number::parse("1e-100000001"), Ok(Number::Big(_))));
        assert_eq!(
            Number::parse("1e999999999999999999999999"),
            Err(NumberError::OutOfRange)
        );
        assert_eq!(Number::parse("1e-100000002"), Err(NumberError::OutOfRange));
        // Zero is zero whatever its exponent.
        assert_eq!(Number::parse("0e999999999999999"), Ok(Number::Int(0)));
    }

    #[test]
    fn u64_beyond_i64_is_exact() {
        assert_eq!(Number::from_u64(5), Number::Int(5));
        assert_eq!(
            Number::from_u64(u64::MAX),
            Number::Big("18446744073709551615".into())
        );
        assert!(matches!(Number::from_u64(1 << 63), Number::Float(f) if f == (1u64 << 63) as f64));
    }

    #[test]
    fn equality_sees_through_non_canonical_big_text() {
        assert_eq!(Number::Big("1.0".into()), Number::Int(1));
        assert_eq!(Number::Big("0.50".into()), Number::Float(0.5));
        assert_eq!(Number::Big("0.10".into()), Number::Big("0.1".into()));
        assert_ne!(Number::Big("0.1".into()), Number::Float(0.1));
        assert_ne!(Number::Big("junk".into()), Number::Big("0".into()));
        assert_eq!(Number::Int(3), Number::Float(3.0));
    }

    #[test]
    fn decimal_text_of_each_kind() {
        assert_eq!(Number::Int(-5).to_decimal_text().as_deref(), Some("-5"));
        assert_eq!(Number::Float(2.5).to_decimal_text().as_deref(), Some("2.5"));
        let text = Number::Float(1e300).to_decimal_text().unwrap();
        assert_eq!(Number::parse(&text), Ok(Number::Float(1e300)));
        assert_eq!(Number::Float(f64::INFINITY).to_decimal_text(), None);
        assert_eq!(Number::Float(f64::NAN).normalize(), Err(NumberError::NaN));
    }
}
