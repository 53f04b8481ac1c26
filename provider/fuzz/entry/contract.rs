//! Fuzz targets for the contract engine's parsers of foreign text: section tokens, contract
//! documents, plaintext sections (schema) and attestation records.

use hyperprotect::contract::attestation;
use hyperprotect::contract::document::{Contract, Section};
use hyperprotect::contract::schema::{self, SectionKind};
use hyperprotect::contract::token;

use super::fixtures;

/// Planted in the schema seeds' secret values (passwords, seeds, env values, API keys). The
/// validator must never quote a value, so a violation message may only contain it where the
/// path does too (a key, which is not secret, named in its own path).
pub(crate) const CANARY: &str = "SECRETCANARY";

/// Section token parse + decrypt with the fixture key. Oracles: no panic; a token that
/// decrypts also parses, has the same prefix and is recognised by `looks_like_token`;
/// error texts never contain the plaintext of a token that does decrypt.
pub(crate) fn token(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let parsed = token::parse(&text);
    let shaped = token::looks_like_token(&text);
    match token::decrypt(&text, fixtures::key()) {
        Ok(opened) => {
            let parsed = parsed.expect("a token that decrypts also parses");
            assert_eq!(parsed.prefix, opened.prefix, "prefix differs");
            assert!(shaped, "a token that decrypts is not recognised as a token");
            true
        }
        Err(e) => {
            if let Err(p) = parsed {
                // Syntax errors are found before any crypto: the same error comes back.
                assert_eq!(e.to_string(), p.to_string(), "parse and decrypt disagree");
            }
            false
        }
    }
}

/// Contract document parse, render and signature check. Oracles: no panic; a parsed
/// document renders, and the rendering parses back to the same four values; every section
/// hashes. Accepted when the `envWorkloadSignature` verifies with the fixture key.
pub(crate) fn document(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(contract) = Contract::parse(text) else {
        return false;
    };
    let yaml = contract.to_yaml().expect("a parsed contract renders");
    let again = Contract::parse(&yaml).expect("a rendered contract parses");
    assert!(
        again == contract,
        "render/parse round trip changed a section"
    );
    for section in Section::ALL {
        assert_eq!(
            contract.section_sha256(section).is_some(),
            contract.get(section).is_some()
        );
    }
    contract.verify_signature(fixtures::public_key()).is_ok()
}

/// The schema validator on arbitrary YAML, as a workload and as an env section. Oracles: no
/// panic; every violation has a path starting at the section and a message; no message
/// quotes the [`CANARY`] (values are never quoted). Accepted when either section is valid.
pub(crate) fn schema(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let mut accepted = false;
    for kind in [SectionKind::Workload, SectionKind::Env] {
        match schema::validate_section(kind, text) {
            Ok(()) => accepted = true,
            Err(violations) => {
                assert!(!violations.is_empty(), "an error without violations");
                for v in &violations {
                    assert!(v.path.starts_with(kind.name()), "path {:?}", v.path);
                    assert!(!v.message.is_empty(), "empty message at {}", v.path);
                    assert!(
                        !v.message.contains(CANARY) || v.path.contains(CANARY),
                        "a violation message quotes a value: {v}"
                    );
                }
            }
        }
    }
    accepted
}

/// Attestation record decrypt + signature check + parse + comparison with a contract.
///
/// Input: `record \n%%\n signature \n%%\n user_data`, the last two optional (an empty
/// signature means none). The record is decrypted with the fixture key when it is a token;
/// the signature is checked with the fixture key. Oracles: no panic; the parsed record
/// matches a fresh parse of the decrypted text; every entry is a 64-digit lowercase hash with
/// a non-empty name. Accepted when the signature verifies and the record attests the
/// contract with no finding.
pub(crate) fn attestation(data: &[u8]) -> bool {
    let mut parts = split(data, b"\n%%\n");
    let record = parts.next().unwrap_or_default();
    let signature = parts.next().filter(|s| !s.trim_ascii().is_empty());
    let user_data = parts.next().and_then(|u| std::str::from_utf8(u).ok());

    let parsed = attestation::parse_checksums(&String::from_utf8_lossy(record));
    for e in &parsed.entries {
        assert!(!e.name.is_empty(), "entry without a name");
        assert!(
            e.sha256.len() == 64
                && e.sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "entry hash is not 64 lowercase hex digits"
        );
    }

    let signature = signature.map(|s| (s, &**fixtures::public_key()));
    match attestation::audit(record, Some(fixtures::key()), signature, user_data) {
        Ok(audit) => {
            assert_eq!(audit.record, attestation::parse_checksums(&audit.text));
            audit.signature_verified && user_data.is_some() && audit.findings.is_empty()
        }
        Err(_) => false,
    }
}

/// Splits `data` at each occurrence of `sep`.
fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let current = rest?;
        match current.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = Some(&current[i + sep.len()..]);
                Some(&current[..i])
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}
