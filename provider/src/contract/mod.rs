//! The Hyper Protect contract engine: everything needed to write, check and audit a
//! contract, in-process (OpenSSL through the `openssl` crate, never the CLI). Knows nothing
//! of Terraform or of the cloud API.
//!
//! - [`token`] — section encryption/decryption in the platforms' token format.
//! - [`keys`] — loading (optionally passphrase-protected) keys and certificates.
//! - [`signing`] — `envWorkloadSignature`.
//! - [`expiry`] — contract expiry (signing certificates issued by a user CA).
//! - [`document`] — assembling the contract document (size limit included).
//! - [`attestation`] — decrypting and verifying attestation records.
//! - [`schema`] — validating plaintext `workload` / `env` sections.
//! - [`archive`] — reproducible base64 tar.gz archives of a folder.
//! - [`certs`] — encryption-certificate checks, chain/CRL verification, download, selection.
//! - [`image`] — Hyper Protect image selection from a VPC image list.

pub mod archive;
pub mod attestation;
pub mod certs;
pub mod document;
pub mod expiry;
pub mod image;
pub mod keys;
pub mod schema;
pub mod signing;
pub mod token;
