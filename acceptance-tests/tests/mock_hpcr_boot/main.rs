//! The mock-cloud Hyper Protect boot against contracts built the way IBM documents it: every
//! contract here is produced by the `openssl` CLI (`openssl rand`, `pkeyutl -encrypt -certin`,
//! `enc -aes-256-cbc -pbkdf2 -pass stdin`, `dgst -sha256 -sign`, `x509 -req -days N`), and the
//! attestation record is read back with the CLI too, so the emulator is checked against
//! OpenSSL rather than against itself.
//!
//! One test binary (the fixture PKI is built once for all tests), split by concern.

mod acceptance;
mod attestation;
mod contract;
mod fixture;
mod openssl_cli;
mod password_trap;
mod pki;
mod rejections;
mod schema_rules;
