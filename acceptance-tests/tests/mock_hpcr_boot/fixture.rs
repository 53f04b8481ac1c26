//! Fixture: a small RSA-2048 PKI brought by the test (written by the CLI into DIR/pki),
//! a deployer signing key, a deployer CA for expiry certificates, and a stranger's cert.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use acceptance_tests::mock_cloud::pki::Pki;

use crate::openssl_cli::ossl;

pub(crate) struct Fixture {
    pub(crate) dir: PathBuf,
    pub(crate) pki: Pki,
    pub(crate) signing_key: PathBuf,
    pub(crate) signing_pub_pem: String,
    pub(crate) other_signing_key: PathBuf,
    pub(crate) other_cert: PathBuf,
    pub(crate) user_attestation_key: PathBuf,
    pub(crate) user_attestation_pub_pem: String,
}

impl Fixture {
    pub(crate) fn enc_cert(&self) -> PathBuf {
        self.dir.join("pki/encryption.crt")
    }
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn issue(dir: &Path, stem: &str, subject: &str, ca: &str, ext: Option<&str>) {
    let key = format!("{stem}.key");
    let csr = format!("{stem}.csr");
    let crt = format!("{stem}.crt");
    ossl(dir, &["genrsa", "-out", &key, "2048"], None);
    ossl(
        dir,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
        None,
    );
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_crt,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "30",
        "-sha512",
        "-out",
        &crt,
    ];
    if let Some(e) = ext {
        args.extend_from_slice(&["-extfile", e]);
    }
    ossl(dir, &args, None);
}

pub(crate) fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("mock-hpcr-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap()
            .keep();
        let pki_dir = dir.join("pki");
        fs::create_dir_all(&pki_dir).unwrap();
        let p = &pki_dir;
        fs::write(
            p.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        ossl(p, &["genrsa", "-out", "root.key", "2048"], None);
        ossl(
            p,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "root.key",
                "-subj",
                "/CN=Test-brought Root",
                "-days",
                "30",
                "-out",
                "root.crt",
            ],
            None,
        );
        issue(
            p,
            "intermediate",
            "/CN=Test-brought Intermediate",
            "root",
            Some("ca.ext"),
        );
        issue(
            p,
            "encryption",
            "/CN=Test-brought Hyper Protect encryption",
            "intermediate",
            None,
        );
        issue(
            p,
            "attestation",
            "/CN=Test-brought Hyper Protect attestation",
            "intermediate",
            None,
        );
        for f in [
            "ca.ext",
            "intermediate.csr",
            "encryption.csr",
            "attestation.csr",
        ] {
            fs::remove_file(p.join(f)).unwrap();
        }
        let d = &dir;
        ossl(d, &["genrsa", "-out", "signing.key", "2048"], None);
        ossl(
            d,
            &[
                "rsa",
                "-in",
                "signing.key",
                "-pubout",
                "-out",
                "signing.pub",
            ],
            None,
        );
        ossl(d, &["genrsa", "-out", "other-signing.key", "2048"], None);
        ossl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "other.key",
                "-out",
                "other.crt",
                "-subj",
                "/CN=Someone else's encryption cert",
                "-days",
                "30",
            ],
            None,
        );
        ossl(d, &["genrsa", "-out", "user-attestation.key", "2048"], None);
        ossl(
            d,
            &[
                "rsa",
                "-in",
                "user-attestation.key",
                "-pubout",
                "-out",
                "user-attestation.pub",
            ],
            None,
        );
        // The deployer's own CA for contract expiry (IBM "Contract expiry" step 2).
        ossl(d, &["genrsa", "-out", "personal_ca.key", "2048"], None);
        ossl(
            d,
            &[
                "req",
                "-new",
                "-x509",
                "-key",
                "personal_ca.key",
                "-subj",
                "/CN=Deployer CA",
                "-days",
                "30",
                "-out",
                "personal_ca.crt",
            ],
            None,
        );
        let pki = Pki::load_or_create(&dir).expect("the brought PKI loads");
        Fixture {
            signing_key: dir.join("signing.key"),
            signing_pub_pem: fs::read_to_string(dir.join("signing.pub")).unwrap(),
            other_signing_key: dir.join("other-signing.key"),
            other_cert: dir.join("other.crt"),
            user_attestation_key: dir.join("user-attestation.key"),
            user_attestation_pub_pem: fs::read_to_string(dir.join("user-attestation.pub")).unwrap(),
            pki,
            dir,
        }
    })
}
