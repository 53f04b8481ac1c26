//! The §3 password trap: the PBKDF2 password is cut at the first newline or NUL, as
//! `openssl enc -pass stdin` does.

use std::fs;

use acceptance_tests::mock_cloud::hpcr::boot;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::contract::{assert_accepted, assert_rejected, env_section, now, user_data, WORKLOAD};
use crate::fixture::fixture;
use crate::openssl_cli::{encrypt, encrypt_with_password, ossl};

#[test]
fn password_with_newline_or_nul_is_cut_like_openssl() {
    let f = fixture();
    let env = encrypt(&env_section(None), &f.enc_cert());
    let crafted: [&[u8]; 4] = [
        b"0123456789abcdef\n0123456789abcde",   // newline in the middle
        b"\nabcdefghijklmnopqrstuvwxyz01234",   // empty effective password
        b"0123456789\x000123456789abcdef01234", // NUL ends the C string
        b"0123456789abcdef\r0123456789abcde",   // CR is kept
    ];
    for pw in crafted {
        assert_eq!(pw.len(), 32);
        let w = encrypt_with_password(
            "hyper-protect-basic",
            WORKLOAD.as_bytes(),
            &f.enc_cert(),
            pw,
        );
        let r = boot(&user_data(&w, &env, None, None), &f.pki, now());
        assert_accepted(&r);
    }

    // A token keyed from the *full* password (what a byte-exact implementation writes) does
    // not decrypt under openssl's rule: PBKDF2 via `openssl kdf`, then `enc -K -iv -nosalt`.
    let work = tempfile::tempdir().unwrap();
    let d = work.path();
    let pw: &[u8] = b"0123456789abcdef\n0123456789abcde";
    let salt = "0102030405060708";
    let key_iv = ossl(
        d,
        &[
            "kdf",
            "-keylen",
            "48",
            "-binary",
            "-kdfopt",
            "digest:SHA256",
            "-kdfopt",
            &format!("hexpass:{}", hex::encode(pw)),
            "-kdfopt",
            &format!("hexsalt:{salt}"),
            "-kdfopt",
            "iter:10000",
            "PBKDF2",
        ],
        None,
    );
    assert_eq!(key_iv.len(), 48);
    fs::write(d.join("section.yaml"), WORKLOAD).unwrap();
    fs::write(d.join("password"), pw).unwrap();
    let ct = ossl(
        d,
        &[
            "enc",
            "-aes-256-cbc",
            "-nosalt",
            "-K",
            &hex::encode(&key_iv[..32]),
            "-iv",
            &hex::encode(&key_iv[32..]),
            "-in",
            "section.yaml",
        ],
        None,
    );
    let rsa = ossl(
        d,
        &[
            "pkeyutl",
            "-encrypt",
            "-inkey",
            f.enc_cert().to_str().unwrap(),
            "-certin",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-in",
            "password",
        ],
        None,
    );
    let mut aes = b"Salted__".to_vec();
    aes.extend_from_slice(&hex::decode(salt).unwrap());
    aes.extend_from_slice(&ct);
    let full_pw_token = format!(
        "hyper-protect-basic.{}.{}",
        B64.encode(rsa),
        B64.encode(aes)
    );
    assert_rejected(
        &boot(&user_data(&full_pw_token, &env, None, None), &f.pki, now()),
        &["section workload"],
    );
}
