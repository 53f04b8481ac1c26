//! cty numbers: arbitrary precision, kept exact.

/// A cty number. Terraform numbers are arbitrary-precision decimals; most are small
/// integers or ordinary floats, so those are stored natively and anything else keeps its
/// exact decimal text.
#[derive(Clone, Debug)]
pub enum Number {
    Int(i64),
    Float(f64),
    /// A finite decimal that is neither an exact i64 nor an exact f64, as canonical
    /// decimal text (e.g. `"123456789012345678901234567890"` or `"0.1000000000000000000001"`).
    Big(String),
}

impl PartialEq for Number {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => a == b,
            (Number::Float(a), Number::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Number::Int(a), Number::Float(b)) | (Number::Float(b), Number::Int(a)) => {
                // Exact comparison: an i64 equals a float only if the float is that integer.
                b.fract() == 0.0
                    && *b >= -9.223372036854776e18
                    && *b < 9.223372036854776e18
                    && (*b as i64) == *a
            }
            (Number::Big(a), Number::Big(b)) => a == b,
            _ => false,
        }
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Number::Int(v)
    }
}

impl From<f64> for Number {
    fn from(v: f64) -> Self {
        if v.fract() == 0.0 && v >= -9.223372036854776e18 && v < 9.223372036854776e18 {
            Number::Int(v as i64)
        } else {
            Number::Float(v)
        }
    }
}
