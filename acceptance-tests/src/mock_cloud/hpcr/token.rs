//! The section token format `<prefix>.<B64 RSA(password)>.<B64 Salted__‖salt‖AES-256-CBC>`:
//! decryption as `openssl pkeyutl`/`openssl enc -pbkdf2 -pass stdin` do it, and SHA-256 signing.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private, Public};
use openssl::rsa::Padding;
use openssl::sign::{Signer, Verifier};
use openssl::symm::Cipher;

/// Prefixes of encrypted tokens the platform decrypts.
pub(super) const TOKEN_PREFIXES: [&str; 2] = ["hyper-protect-basic.", "contract-basic."];
/// Prefix of the tokens the platform itself produces (the attestation record).
pub(super) const RECORD_PREFIX: &str = "hyper-protect-basic";
pub(super) const PBKDF2_ITERATIONS: usize = 10_000;
pub(super) const SALT_HEADER: &[u8] = b"Salted__";

pub(super) fn token_prefix(s: &str) -> Option<&'static str> {
    TOKEN_PREFIXES.into_iter().find(|p| s.starts_with(p))
}

/// `word.B64.B64` on one line, long enough to carry an RSA block.
pub(super) fn looks_like_token(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && s.len() > 300
        && !s.contains(char::is_whitespace)
        && parts[1..].iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        })
}

/// Decrypts `<prefix>.<B64 RSA(password)>.<B64 Salted__‖salt‖AES-256-CBC>` the way the
/// platform's `openssl pkeyutl -decrypt` + `openssl enc -d -aes-256-cbc -pbkdf2 -pass stdin`
/// would. Errors say which part failed, never what was in it.
pub(super) fn decrypt_token(token: &str, key: &PKey<Private>) -> Result<Vec<u8>, String> {
    let parts: Vec<&str> = token.split('.').collect();
    let [_, rsa_b64, aes_b64] = parts.as_slice() else {
        return Err(format!(
            "token must have 3 dot-separated parts, found {}",
            parts.len()
        ));
    };
    let rsa_part = B64
        .decode(rsa_b64)
        .map_err(|e| format!("RSA part is not valid base64 ({e})"))?;
    let aes_part = B64
        .decode(aes_b64)
        .map_err(|e| format!("AES part is not valid base64 ({e})"))?;
    let rsa = key
        .rsa()
        .map_err(|_| "the platform's encryption key is not RSA".to_string())?;
    let size = usize::try_from(rsa.size()).unwrap_or(0);
    if rsa_part.len() != size {
        return Err(format!(
            "RSA part is {} bytes but the platform's encryption key takes {size}: \
             encrypted to a different certificate",
            rsa_part.len()
        ));
    }
    let mut buf = vec![0u8; size];
    let n = rsa
        .private_decrypt(&rsa_part, &mut buf, Padding::PKCS1)
        .map_err(|_| {
            "RSA part does not decrypt with the platform's encryption key \
             (encrypted to a different certificate, or not PKCS#1 v1.5)"
                .to_string()
        })?;
    let password = &buf[..n.min(size)];
    let plain = openssl_enc_decrypt(password, &aes_part);
    buf.fill(0);
    plain
}

/// What `openssl enc -pass stdin` uses as password: the bytes before the first newline
/// (the line read) or NUL (C string); a carriage return is kept.
pub(super) fn openssl_stdin_password(password: &[u8]) -> &[u8] {
    let end = password
        .iter()
        .position(|&b| b == b'\n' || b == 0)
        .unwrap_or(password.len());
    &password[..end]
}

pub(super) fn derive_key_iv(password: &[u8], salt: &[u8]) -> Result<[u8; 48], String> {
    let mut key_iv = [0u8; 48];
    openssl::pkcs5::pbkdf2_hmac(
        password,
        salt,
        PBKDF2_ITERATIONS,
        MessageDigest::sha256(),
        &mut key_iv,
    )
    .map_err(|e| format!("PBKDF2 failed: {e}"))?;
    Ok(key_iv)
}

pub(super) fn openssl_enc_decrypt(password: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 16 || &data[..8] != SALT_HEADER {
        return Err("AES part lacks the openssl `Salted__` header".into());
    }
    let (salt, ciphertext) = data[8..].split_at(8);
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(format!(
            "AES part ciphertext is {} bytes, not a positive multiple of the AES block (16)",
            ciphertext.len()
        ));
    }
    let mut key_iv = derive_key_iv(openssl_stdin_password(password), salt)?;
    let result = openssl::symm::decrypt(
        Cipher::aes_256_cbc(),
        &key_iv[..32],
        Some(&key_iv[32..]),
        ciphertext,
    )
    .map_err(|_| {
        "AES part does not decrypt with the password from the RSA part (bad padding)".to_string()
    });
    key_iv.fill(0);
    result
}

/// Encrypts `plain` to `to` in the token format, with a fresh 32-character printable
/// password (so `-pass stdin` and a byte-exact reader derive the same key).
pub(super) fn encrypt_token(
    prefix: &str,
    plain: &[u8],
    to: &PKey<Public>,
) -> Result<String, String> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut password = [0u8; 32];
    openssl::rand::rand_bytes(&mut password).map_err(|e| format!("no randomness: {e}"))?;
    // 256 is a multiple of 64: masking keeps the characters uniform.
    for b in password.iter_mut() {
        *b = ALPHABET[usize::from(*b & 63)];
    }
    let rsa = to
        .rsa()
        .map_err(|_| "the public key is not RSA".to_string())?;
    let mut rsa_part = vec![0u8; usize::try_from(rsa.size()).unwrap_or(0)];
    let n = rsa
        .public_encrypt(&password, &mut rsa_part, Padding::PKCS1)
        .map_err(|e| format!("RSA encryption failed: {e}"))?;
    rsa_part.truncate(n);
    let mut salt = [0u8; 8];
    openssl::rand::rand_bytes(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    let mut key_iv = derive_key_iv(&password, &salt)?;
    let ciphertext = openssl::symm::encrypt(
        Cipher::aes_256_cbc(),
        &key_iv[..32],
        Some(&key_iv[32..]),
        plain,
    )
    .map_err(|e| format!("AES encryption failed: {e}"));
    key_iv.fill(0);
    password.fill(0);
    let mut aes_part = Vec::with_capacity(16 + plain.len() + 16);
    aes_part.extend_from_slice(SALT_HEADER);
    aes_part.extend_from_slice(&salt);
    aes_part.extend_from_slice(&ciphertext?);
    Ok(format!(
        "{prefix}.{}.{}",
        B64.encode(rsa_part),
        B64.encode(aes_part)
    ))
}

pub(super) fn sign_sha256(
    key: &PKey<Private>,
    data: &[u8],
) -> Result<Vec<u8>, openssl::error::ErrorStack> {
    let mut signer = Signer::new(MessageDigest::sha256(), key)?;
    signer.update(data)?;
    signer.sign_to_vec()
}

pub(super) fn verify_sha256(key: &PKey<Public>, data: &[u8], sig: &[u8]) -> bool {
    Verifier::new(MessageDigest::sha256(), key)
        .and_then(|mut v| {
            v.update(data)?;
            v.verify(sig)
        })
        .unwrap_or(false)
}
