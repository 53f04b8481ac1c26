//! The emulator's PKI: a test root CA → intermediate CA → the per-image encryption and
//! attestation certificates a Hyper Protect image ships with (IBM's `…-encrypt.crt`,
//! `…-intermediate.crt`, `…-attestation.crt`), persisted as PEM under `DIR/pki/`.
//!
//! Layout: `root.crt`/`root.key`, `intermediate.crt`/`intermediate.key`,
//! `encryption.crt`/`encryption.key`, `attestation.crt`/`attestation.key`.
//!
//! Rules:
//! - What exists is loaded, never regenerated (tests may bring their own files, e.g. a small
//!   RSA-2048 `encryption.crt`/`encryption.key` to keep them fast).
//! - A key without its certificate (a crash between the two writes) gets a certificate
//!   issued for it; a certificate without its key is an error unless the key is never needed
//!   (a CA whose children all exist).
//! - A certificate whose issuer name is one of our CAs' subject must verify with that CA:
//!   this catches a regenerated parent under existing children. Certificates with any other
//!   issuer (brought by a test) are taken as they are.
//! - Files are written atomically (temp file + rename), keys with mode 0600; the key of a
//!   pair is written before its certificate so a crash never leaves a certificate without key.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509Name, X509};

/// Certificates and keys a Hyper Protect platform holds, persisted as PEM under `DIR/pki/`.
/// Cloning is cheap (OpenSSL reference counts).
#[derive(Clone)]
pub struct Pki {
    pub root: X509,
    pub intermediate: X509,
    pub encryption_cert: X509,
    pub encryption_key: PKey<Private>,
    pub attestation_cert: X509,
    pub attestation_key: PKey<Private>,
}

#[derive(Debug, thiserror::Error)]
#[error("PKI: {0}")]
pub struct PkiError(pub String);

/// RSA modulus sizes the emulator generates (only sizes OpenSSL and the platform accept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaBits {
    Rsa2048,
    Rsa3072,
    Rsa4096,
}

impl RsaBits {
    fn bits(self) -> u32 {
        match self {
            RsaBits::Rsa2048 => 2048,
            RsaBits::Rsa3072 => 3072,
            RsaBits::Rsa4096 => 4096,
        }
    }
}

/// Key sizes for what has to be generated. The default mirrors IBM: RSA-4096 everywhere
/// (the encryption certificate's key gives the 684-character RSA part of a token, the
/// attestation key a 512-byte `se-signature.bin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PkiOptions {
    pub ca_bits: RsaBits,
    pub encryption_bits: RsaBits,
    pub attestation_bits: RsaBits,
}

impl Default for PkiOptions {
    fn default() -> Self {
        PkiOptions {
            ca_bits: RsaBits::Rsa4096,
            encryption_bits: RsaBits::Rsa4096,
            attestation_bits: RsaBits::Rsa4096,
        }
    }
}

/// The four certificate/key pairs, in issuing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Root,
    Intermediate,
    Encryption,
    Attestation,
}

const ROLES: [Role; 4] = [
    Role::Root,
    Role::Intermediate,
    Role::Encryption,
    Role::Attestation,
];

impl Role {
    fn stem(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Intermediate => "intermediate",
            Role::Encryption => "encryption",
            Role::Attestation => "attestation",
        }
    }

    fn is_ca(self) -> bool {
        matches!(self, Role::Root | Role::Intermediate)
    }

    fn issuer(self) -> Option<Role> {
        match self {
            Role::Root => None,
            Role::Intermediate => Some(Role::Root),
            Role::Encryption | Role::Attestation => Some(Role::Intermediate),
        }
    }

    fn bits(self, opts: &PkiOptions) -> RsaBits {
        match self {
            Role::Root | Role::Intermediate => opts.ca_bits,
            Role::Encryption => opts.encryption_bits,
            Role::Attestation => opts.attestation_bits,
        }
    }

    /// Validity in days: the leaves follow IBM's ~1 year; the CAs outlive them.
    fn validity_days(self) -> u32 {
        match self {
            Role::Root => 3650,
            Role::Intermediate => 1825,
            Role::Encryption | Role::Attestation => 365,
        }
    }

    fn common_name(self) -> &'static str {
        match self {
            Role::Root => "mock-cloud Hyper Protect Test Root CA",
            Role::Intermediate => "mock-cloud Hyper Protect Signing Service Intermediate CA",
            Role::Encryption => "mock-cloud Hyper Protect Container Runtime Encryption",
            Role::Attestation => "mock-cloud Hyper Protect Container Runtime Attestation",
        }
    }

    fn subject(self) -> Result<X509Name, ErrorStack> {
        let mut name = X509Name::builder()?;
        name.append_entry_by_nid(Nid::COUNTRYNAME, "US")?;
        name.append_entry_by_nid(Nid::STATEORPROVINCENAME, "New York")?;
        name.append_entry_by_nid(Nid::LOCALITYNAME, "Armonk")?;
        name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "mock-cloud (test PKI, not IBM)")?;
        name.append_entry_by_nid(Nid::ORGANIZATIONALUNITNAME, "IBM Z Hyper Protect emulation")?;
        name.append_entry_by_nid(Nid::COMMONNAME, self.common_name())?;
        Ok(name.build())
    }
}

/// A pair as found on disk (either half may be missing).
struct Pair {
    cert: Option<X509>,
    key: Option<PKey<Private>>,
}

fn err(path: &Path, what: impl std::fmt::Display) -> PkiError {
    PkiError(format!("{}: {what}", path.display()))
}

/// Names the certificates only: the private keys must never reach a log.
impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let subject = |c: &X509| {
            c.subject_name()
                .entries_by_nid(Nid::COMMONNAME)
                .next()
                .and_then(|e| e.data().to_string().ok())
                .unwrap_or_else(|| "<no CN>".into())
        };
        f.debug_struct("Pki")
            .field("root", &subject(&self.root))
            .field("intermediate", &subject(&self.intermediate))
            .field("encryption_cert", &subject(&self.encryption_cert))
            .field("attestation_cert", &subject(&self.attestation_cert))
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Loads `dir/pki/*.pem`, creating what is missing (keeping a user-provided
    /// `encryption.crt` + `encryption.key`).
    pub fn load_or_create(dir: &Path) -> Result<Pki, PkiError> {
        Pki::load_or_create_with(dir, &PkiOptions::default())
    }

    /// As [`Pki::load_or_create`], with the key sizes used for whatever must be generated.
    pub fn load_or_create_with(dir: &Path, opts: &PkiOptions) -> Result<Pki, PkiError> {
        let pki_dir = dir.join("pki");
        create_private_dir(&pki_dir)?;
        let mut pairs = Vec::with_capacity(ROLES.len());
        for role in ROLES {
            pairs.push(load_pair(&pki_dir, role)?);
        }
        let mut store = PairStore::from_vec(pairs);
        store.complete(opts, Some(&pki_dir))?;
        store.check_chain(&pki_dir)?;
        store.into_pki(&pki_dir)
    }

    /// A fresh PKI that lives only in memory (for tests and throw-away servers).
    pub fn generate_in_memory(opts: &PkiOptions) -> Result<Pki, PkiError> {
        let mut store = PairStore::from_vec(
            ROLES
                .iter()
                .map(|_| Pair {
                    cert: None,
                    key: None,
                })
                .collect(),
        );
        store.complete(opts, None)?;
        store.into_pki(Path::new("<memory>"))
    }
}

struct PairStore {
    pairs: Vec<Pair>,
}

impl PairStore {
    fn from_vec(pairs: Vec<Pair>) -> Self {
        PairStore { pairs }
    }

    fn idx(role: Role) -> usize {
        match role {
            Role::Root => 0,
            Role::Intermediate => 1,
            Role::Encryption => 2,
            Role::Attestation => 3,
        }
    }

    fn get(&self, role: Role) -> &Pair {
        &self.pairs[Self::idx(role)]
    }

    /// Generates missing keys (in parallel: RSA-4096 takes about a second each) and issues
    /// missing certificates in order, writing each new file when `dir` is given.
    fn complete(&mut self, opts: &PkiOptions, dir: Option<&Path>) -> Result<(), PkiError> {
        let shown = |role: Role, ext: &str| -> PathBuf {
            dir.unwrap_or(Path::new("<memory>"))
                .join(format!("{}.{ext}", role.stem()))
        };
        // Which certificates must be issued, and so which issuer keys are needed.
        let needs_cert: Vec<Role> = ROLES
            .into_iter()
            .filter(|r| self.get(*r).cert.is_none())
            .collect();
        for role in &needs_cert {
            if let Some(issuer) = role.issuer() {
                let p = self.get(issuer);
                if p.key.is_none() && p.cert.is_some() {
                    return Err(err(
                        &shown(issuer, "key"),
                        format!(
                            "missing, but needed to issue {}.crt (its certificate exists, so \
                             it cannot be regenerated)",
                            role.stem()
                        ),
                    ));
                }
            }
        }
        // The leaves' keys are always needed (they are in `Pki`).
        for role in [Role::Encryption, Role::Attestation] {
            let p = self.get(role);
            if p.cert.is_some() && p.key.is_none() {
                return Err(err(
                    &shown(role, "key"),
                    format!("missing while {}.crt exists", role.stem()),
                ));
            }
        }
        let need_keys: Vec<Role> = ROLES
            .into_iter()
            .filter(|r| self.get(*r).key.is_none() && self.get(*r).cert.is_none())
            .collect();
        // A CA with a new key would orphan the existing certificates it issued: refuse before
        // writing anything. (A CA whose key survived gets a certificate that children still
        // verify against.)
        for ca in need_keys.iter().filter(|r| r.is_ca()) {
            let subject = ca
                .subject()
                .and_then(|n| n.to_der())
                .map_err(|e| err(&shown(*ca, "crt"), format!("cannot build the subject: {e}")))?;
            for child in ROLES.into_iter().filter(|c| c.issuer() == Some(*ca)) {
                let Some(cert) = &self.get(child).cert else {
                    continue;
                };
                if cert.issuer_name().to_der().ok().as_deref() == Some(subject.as_slice()) {
                    return Err(err(
                        &shown(child, "crt"),
                        format!(
                            "was issued by {}.crt, which is missing with its key; remove {}.crt \
                             and {}.key to reissue both",
                            ca.stem(),
                            child.stem(),
                            child.stem()
                        ),
                    ));
                }
            }
        }
        let generated: Vec<(Role, Result<PKey<Private>, ErrorStack>)> = std::thread::scope(|s| {
            let handles: Vec<_> = need_keys
                .iter()
                .map(|role| {
                    let bits = role.bits(opts).bits();
                    (*role, s.spawn(move || generate_rsa(bits)))
                })
                .collect();
            handles
                .into_iter()
                .map(|(role, h)| {
                    let res = h.join().unwrap_or_else(|_| Err(ErrorStack::get()));
                    (role, res)
                })
                .collect()
        });
        for (role, res) in generated {
            let key = res.map_err(|e| {
                err(
                    &shown(role, "key"),
                    format!("RSA key generation failed: {e}"),
                )
            })?;
            if let Some(d) = dir {
                let pem = key
                    .private_key_to_pem_pkcs8()
                    .map_err(|e| err(&shown(role, "key"), format!("cannot encode the key: {e}")))?;
                write_atomic(&d.join(format!("{}.key", role.stem())), &pem, 0o600)?;
            }
            self.pairs[Self::idx(role)].key = Some(key);
        }
        for role in needs_cert {
            let cert = {
                let subject_key = self.get(role).key.as_ref().ok_or_else(|| {
                    err(&shown(role, "key"), "missing (internal: key not generated)")
                })?;
                let issuer = match role.issuer() {
                    None => None,
                    Some(i) => {
                        let p = self.get(i);
                        match (&p.cert, &p.key) {
                            (Some(c), Some(k)) => Some((c, k)),
                            _ => {
                                return Err(err(
                                    &shown(i, "crt"),
                                    format!("needed to issue {}.crt but unavailable", role.stem()),
                                ))
                            }
                        }
                    }
                };
                build_cert(role, subject_key, issuer).map_err(|e| {
                    err(
                        &shown(role, "crt"),
                        format!("cannot issue the certificate: {e}"),
                    )
                })?
            };
            if let Some(d) = dir {
                let pem = cert.to_pem().map_err(|e| {
                    err(
                        &shown(role, "crt"),
                        format!("cannot encode the certificate: {e}"),
                    )
                })?;
                write_atomic(&d.join(format!("{}.crt", role.stem())), &pem, 0o644)?;
            }
            self.pairs[Self::idx(role)].cert = Some(cert);
        }
        Ok(())
    }

    /// Our own issuing relations must hold: a child naming one of our CAs as issuer must
    /// carry a signature by that CA.
    fn check_chain(&self, dir: &Path) -> Result<(), PkiError> {
        for role in ROLES {
            let Some(issuer) = role.issuer() else {
                continue;
            };
            let (Some(child), Some(parent)) = (&self.get(role).cert, &self.get(issuer).cert) else {
                continue;
            };
            let same_name = match (child.issuer_name().to_der(), parent.subject_name().to_der()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if !same_name {
                continue;
            }
            let ok = parent
                .public_key()
                .and_then(|k| child.verify(&k))
                .unwrap_or(false);
            if !ok {
                return Err(err(
                    &dir.join(format!("{}.crt", role.stem())),
                    format!(
                        "names {}.crt as issuer but its signature does not verify with it \
                         (inconsistent PKI: remove {}.crt/.key to reissue)",
                        issuer.stem(),
                        role.stem()
                    ),
                ));
            }
        }
        Ok(())
    }

    fn into_pki(self, dir: &Path) -> Result<Pki, PkiError> {
        let mut it = self.pairs.into_iter();
        let mut next = |role: Role| -> Result<Pair, PkiError> {
            it.next().ok_or_else(|| {
                err(
                    &dir.join(format!("{}.crt", role.stem())),
                    "missing (internal)",
                )
            })
        };
        let cert_of = |p: &mut Pair, role: Role| -> Result<X509, PkiError> {
            p.cert.take().ok_or_else(|| {
                err(
                    &dir.join(format!("{}.crt", role.stem())),
                    "missing after generation",
                )
            })
        };
        let key_of = |p: &mut Pair, role: Role| -> Result<PKey<Private>, PkiError> {
            p.key.take().ok_or_else(|| {
                err(
                    &dir.join(format!("{}.key", role.stem())),
                    "missing after generation",
                )
            })
        };
        let mut root = next(Role::Root)?;
        let mut inter = next(Role::Intermediate)?;
        let mut enc = next(Role::Encryption)?;
        let mut att = next(Role::Attestation)?;
        Ok(Pki {
            root: cert_of(&mut root, Role::Root)?,
            intermediate: cert_of(&mut inter, Role::Intermediate)?,
            encryption_cert: cert_of(&mut enc, Role::Encryption)?,
            encryption_key: key_of(&mut enc, Role::Encryption)?,
            attestation_cert: cert_of(&mut att, Role::Attestation)?,
            attestation_key: key_of(&mut att, Role::Attestation)?,
        })
    }
}

fn generate_rsa(bits: u32) -> Result<PKey<Private>, ErrorStack> {
    PKey::from_rsa(Rsa::generate(bits)?)
}

fn load_pair(dir: &Path, role: Role) -> Result<Pair, PkiError> {
    let cert_path = dir.join(format!("{}.crt", role.stem()));
    let key_path = dir.join(format!("{}.key", role.stem()));
    let cert = match read_if_exists(&cert_path)? {
        None => None,
        Some(bytes) => Some(
            X509::from_pem(&bytes)
                .map_err(|e| err(&cert_path, format!("not a PEM certificate: {e}")))?,
        ),
    };
    let key = match read_if_exists(&key_path)? {
        None => None,
        // The error stack names the parse failure only, never key material.
        Some(bytes) => Some(
            PKey::private_key_from_pem(&bytes)
                .map_err(|e| err(&key_path, format!("not a PEM private key: {e}")))?,
        ),
    };
    if let Some(k) = &key {
        if k.rsa().is_err() {
            return Err(err(&key_path, "must be an RSA private key"));
        }
    }
    if let (Some(c), Some(k)) = (&cert, &key) {
        let matches = c.public_key().map(|p| p.public_eq(k)).unwrap_or(false);
        if !matches {
            return Err(err(
                &key_path,
                format!("does not match the public key of {}", cert_path.display()),
            ));
        }
    }
    Ok(Pair { cert, key })
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, PkiError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(path, format!("cannot read: {e}"))),
    }
}

fn create_private_dir(path: &Path) -> Result<(), PkiError> {
    if path.is_dir() {
        return Ok(());
    }
    let mut b = fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(path)
        .map_err(|e| err(path, format!("cannot create the directory: {e}")))
}

/// Writes `bytes` to a temporary sibling and renames it over `path`, so readers never see
/// a half-written file; `mode` applies from creation (no window with a readable key).
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), PkiError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        err(path, format!("cannot write: {e}"))
    })
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn build_cert(
    role: Role,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
) -> Result<X509, ErrorStack> {
    let mut b = X509::builder()?;
    b.set_version(2)?;
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    b.set_serial_number(&serial)?;
    let subject = role.subject()?;
    b.set_subject_name(&subject)?;
    match issuer {
        Some((c, _)) => b.set_issuer_name(c.subject_name())?,
        None => b.set_issuer_name(&subject)?,
    }
    // Backdated a little so a client with a slightly slow clock still sees it as valid.
    let now = unix_now();
    let not_before = Asn1Time::from_unix(now - 300)?;
    let not_after = Asn1Time::from_unix(now + i64::from(role.validity_days()) * 86_400)?;
    b.set_not_before(&not_before)?;
    b.set_not_after(&not_after)?;
    b.set_pubkey(key)?;
    match role {
        Role::Root => {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()?,
            )?;
        }
        Role::Intermediate => {
            b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()?,
            )?;
        }
        Role::Encryption => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_encipherment()
                    .data_encipherment()
                    .build()?,
            )?;
        }
        Role::Attestation => {
            b.append_extension(BasicConstraints::new().critical().build()?)?;
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
        }
    }
    let ski =
        SubjectKeyIdentifier::new().build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))?;
    b.append_extension(ski)?;
    if let Some((c, _)) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(c), None))?;
        b.append_extension(aki)?;
    }
    let signing_key = issuer.map(|(_, k)| k).unwrap_or(key);
    // IBM's encryption certificates are sha512WithRSAEncryption.
    b.sign(signing_key, MessageDigest::sha512())?;
    Ok(b.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PkiOptions {
        PkiOptions {
            ca_bits: RsaBits::Rsa2048,
            encryption_bits: RsaBits::Rsa2048,
            attestation_bits: RsaBits::Rsa2048,
        }
    }

    #[test]
    fn in_memory_chain_verifies() {
        let pki = Pki::generate_in_memory(&small()).unwrap();
        let root_key = pki.root.public_key().unwrap();
        let inter_key = pki.intermediate.public_key().unwrap();
        assert!(pki.root.verify(&root_key).unwrap());
        assert!(pki.intermediate.verify(&root_key).unwrap());
        assert!(pki.encryption_cert.verify(&inter_key).unwrap());
        assert!(pki.attestation_cert.verify(&inter_key).unwrap());
        assert!(!pki.encryption_cert.verify(&root_key).unwrap());
        assert_eq!(
            pki.encryption_cert.signature_algorithm().object().nid(),
            Nid::SHA512WITHRSAENCRYPTION
        );
    }

    #[test]
    fn key_without_cert_gets_a_cert_and_cert_without_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create_with(dir.path(), &small()).unwrap();
        let p = dir.path().join("pki");
        fs::remove_file(p.join("attestation.crt")).unwrap();
        let again = Pki::load_or_create_with(dir.path(), &small()).unwrap();
        assert!(again.attestation_key.public_eq(&pki.attestation_key));
        assert!(again
            .attestation_cert
            .verify(&pki.intermediate.public_key().unwrap())
            .unwrap());
        fs::remove_file(p.join("encryption.key")).unwrap();
        let e = Pki::load_or_create_with(dir.path(), &small())
            .unwrap_err()
            .to_string();
        assert!(e.contains("encryption.key"), "{e}");
    }

    #[test]
    fn regenerated_parent_under_existing_child_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        Pki::load_or_create_with(dir.path(), &small()).unwrap();
        let p = dir.path().join("pki");
        fs::remove_file(p.join("root.crt")).unwrap();
        fs::remove_file(p.join("root.key")).unwrap();
        let e = Pki::load_or_create_with(dir.path(), &small())
            .unwrap_err()
            .to_string();
        assert!(e.contains("intermediate.crt"), "{e}");
        assert!(!p.join("root.key").exists(), "nothing written on refusal");

        // A root whose key survived is reissued, and the intermediate still chains to it.
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create_with(dir.path(), &small()).unwrap();
        let p = dir.path().join("pki");
        fs::remove_file(p.join("root.crt")).unwrap();
        let again = Pki::load_or_create_with(dir.path(), &small()).unwrap();
        assert_ne!(again.root.to_der().unwrap(), first.root.to_der().unwrap());
        assert!(again
            .intermediate
            .verify(&again.root.public_key().unwrap())
            .unwrap());
    }

    #[test]
    fn debug_shows_no_key_material() {
        let pki = Pki::generate_in_memory(&small()).unwrap();
        let shown = format!("{pki:?}");
        assert!(
            shown.contains("Hyper Protect Container Runtime Encryption"),
            "{shown}"
        );
        assert!(!shown.contains("PRIVATE"), "{shown}");
    }
}
