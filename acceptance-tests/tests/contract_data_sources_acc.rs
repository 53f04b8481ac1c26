//! Acceptance tests of `hyperprotect_archive` and `hyperprotect_encryption_certificate`
//! with the real Terraform CLI: read, empty plans (with and without refresh), an input
//! change the outputs follow, an expected error for each bad input, destroy. Certificates
//! are downloaded over HTTP from mock-cloud's publication in IBM's layout; CRLs are made
//! with the openssl CLI (`openssl ca -gencrl`).

mod mock_cloud_support;

use std::cell::RefCell;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use acceptance_tests::harness::{PlanJson, ProviderUnderTest, StateJson, Step, TestCase};
use hyperprotect::contract::archive;
use mock_cloud_support::start_blocking_with_small_pki;
use serde_json::{json, Value};

const HEADER: &str = r#"
terraform {
  required_providers {
    hyperprotect = { source = "hyperprotect/hyperprotect" }
  }
}
"#;

/// The planned action of a root-module output (`["no-op"]`, `["update"]`, ...).
fn output_actions(plan: &PlanJson, name: &str) -> Vec<String> {
    plan.0
        .pointer(&format!("/output_changes/{name}/actions"))
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn expect_output(want: &'static str) -> impl Fn(&PlanJson) -> Result<(), String> {
    move |plan| {
        let got = output_actions(plan, "out");
        if got == [want] {
            Ok(())
        } else {
            Err(format!("output `out` planned {got:?}, expected [{want:?}]"))
        }
    }
}

fn attr<'a>(state: &'a StateJson, address: &str, name: &str) -> Result<&'a Value, String> {
    state
        .attr(address, name)
        .ok_or_else(|| format!("{address}.{name} missing"))
}

// ---------------------------------------------------------------- hyperprotect_archive

const ARCHIVE: &str = "data.hyperprotect_archive.a";

fn archive_config(folder: &Path) -> String {
    format!(
        r#"{HEADER}
data "hyperprotect_archive" "a" {{
  folder = "{}"
}}
output "out" {{
  value = data.hyperprotect_archive.a.sha256
}}
"#,
        folder.display()
    )
}

fn write_sample(root: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    fs::create_dir_all(root.join("conf")).unwrap();
    fs::write(
        root.join("docker-compose.yml"),
        "services:\n  app:\n    image: busybox\n",
    )
    .unwrap();
    fs::write(root.join("conf/app.env"), "A=1\n").unwrap();
    fs::write(root.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(root.join("run.sh"), fs::Permissions::from_mode(0o755)).unwrap();
}

/// Checks the state's archive against the engine's archive of `folder` and returns its sha.
fn archive_matches(state: &StateJson, folder: &Path, entries: u64) -> Result<String, String> {
    let want = archive::tgz_base64(folder).map_err(|e| e.to_string())?;
    let sha = attr(state, ARCHIVE, "sha256")?
        .as_str()
        .unwrap_or("")
        .to_string();
    if sha != want.sha256 {
        return Err(format!("sha256 {sha} is not the engine's {}", want.sha256));
    }
    state.expect(ARCHIVE, "base64", json!(want.base64))?;
    state.expect(ARCHIVE, "entries", json!(entries))?;
    Ok(sha)
}

#[test]
fn test_acc_archive() {
    let root = tempfile::tempdir().unwrap();
    let folder = root.path().join("compose");
    let clone = root.path().join("clone");
    write_sample(&folder);
    let seen: Rc<RefCell<Vec<String>>> = Rc::default();

    let record = |folder: PathBuf, entries: u64, seen: Rc<RefCell<Vec<String>>>, new: bool| {
        move |state: &StateJson| {
            let sha = archive_matches(state, &folder, entries)?;
            let mut seen = seen.borrow_mut();
            match (new, seen.contains(&sha)) {
                (true, true) => return Err(format!("sha256 {sha} did not change")),
                (false, false) if !seen.is_empty() => {
                    return Err(format!("sha256 changed to {sha}"))
                }
                _ => {}
            }
            seen.push(sha);
            Ok(())
        }
    };

    let (f1, f2) = (folder.clone(), folder.clone());
    let (c1, c2) = (folder.clone(), clone.clone());
    let big = root.path().join("big");
    let big_for_hook = big.clone();
    let link_dir = root.path().join("link");
    let link_for_hook = link_dir.clone();

    TestCase {
        name: "test_acc_archive",
        providers: vec![ProviderUnderTest::hyperprotect()],
        env: vec![],
        check_destroy: None,
        steps: vec![
            Step::config("read", archive_config(&folder)).check(record(
                folder.clone(),
                4,
                seen.clone(),
                true,
            )),
            Step::config("touching mtimes changes nothing", archive_config(&folder))
                .pre_config(move |_| {
                    for name in ["docker-compose.yml", "conf/app.env", "run.sh"] {
                        let f = fs::File::options().write(true).open(f1.join(name)).unwrap();
                        f.set_modified(
                            std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400 * 999),
                        )
                        .unwrap();
                    }
                })
                .plan_check(expect_output("no-op"))
                .check(record(folder.clone(), 4, seen.clone(), false)),
            Step::config(
                "a fresh clone elsewhere changes nothing",
                archive_config(&clone),
            )
            .pre_config(move |_| {
                let ok = Command::new("cp")
                    .arg("-r")
                    .arg(&c1)
                    .arg(&c2)
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "cp -r");
            })
            .plan_check(expect_output("no-op"))
            .check(record(clone.clone(), 4, seen.clone(), false)),
            Step::config("editing a file changes sha256", archive_config(&folder))
                .pre_config(move |_| {
                    fs::write(f2.join("conf/app.env"), "A=2\n").unwrap();
                })
                .plan_check(expect_output("update"))
                .check(record(folder.clone(), 4, seen.clone(), true)),
            Step::config("adding a file changes sha256", archive_config(&folder))
                .pre_config({
                    let f = folder.clone();
                    move |_| fs::write(f.join("conf/extra.txt"), "").unwrap()
                })
                .plan_check(expect_output("update"))
                .check(record(folder.clone(), 5, seen.clone(), true)),
            Step::config("removing a file changes sha256", archive_config(&folder))
                .pre_config({
                    let f = folder.clone();
                    move |_| fs::remove_file(f.join("docker-compose.yml")).unwrap()
                })
                .plan_check(expect_output("update"))
                .check(record(folder.clone(), 4, seen.clone(), true)),
            Step::config("a folder too big for a contract", archive_config(&big))
                .pre_config(move |_| {
                    fs::create_dir_all(&big_for_hook).unwrap();
                    let mut noise = vec![0u8; 40_000];
                    openssl::rand::rand_bytes(&mut noise).unwrap();
                    fs::write(big_for_hook.join("blob.bin"), noise).unwrap();
                })
                .expect_error_at(
                    "folder",
                    "Folder too large for a contract",
                    r"base64\s+text\s+is\s+\d+\s+bytes,\s+over\s+the\s+46080-byte\s+limit",
                ),
            Step::config("a symbolic link", archive_config(&link_dir))
                .pre_config(move |_| {
                    fs::create_dir_all(&link_for_hook).unwrap();
                    std::os::unix::fs::symlink("/etc/hostname", link_for_hook.join("l")).unwrap();
                })
                .expect_error_at("folder", "Unsupported file in folder", "symbolic link"),
            Step::config(
                "a missing folder",
                archive_config(&root.path().join("does-not-exist")),
            )
            .expect_error_at("folder", "Cannot archive folder", "does-not-exist"),
        ],
    }
    .run();
}

// ------------------------------------------------- hyperprotect_encryption_certificate

const CERT: &str = "data.hyperprotect_encryption_certificate.c";

fn cert_config(body: &str) -> String {
    format!(
        r#"{HEADER}
data "hyperprotect_encryption_certificate" "c" {{
{body}
}}
output "out" {{
  value = data.hyperprotect_encryption_certificate.c.certificate
}}
"#
    )
}

/// Runs `openssl` in `dir`, panicking with its stderr on failure.
fn ossl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// CRLs of the intermediate CA made with `openssl ca -gencrl`: one revoking nothing, one
/// revoking `revoke`, and one by an unrelated CA.
fn make_crls(dir: &Path, ca_cert: &Path, ca_key: &Path, revoke: &Path) -> [PathBuf; 3] {
    let conf = |name: &str| {
        let db = dir.join(format!("{name}-index.txt"));
        fs::write(&db, "").unwrap();
        fs::write(dir.join(format!("{name}-crlnumber")), "01\n").unwrap();
        let path = dir.join(format!("{name}.cnf"));
        fs::write(
            &path,
            format!(
                "[ ca ]\ndefault_ca = d\n[ d ]\ndatabase = {}\ncrlnumber = {}\n\
                 default_md = sha256\ndefault_crl_days = 30\n",
                db.display(),
                dir.join(format!("{name}-crlnumber")).display()
            ),
        )
        .unwrap();
        path.display().to_string()
    };
    let (ca_cert, ca_key) = (ca_cert.display().to_string(), ca_key.display().to_string());
    let good = conf("good");
    ossl(
        dir,
        &[
            "ca", "-config", &good, "-gencrl", "-keyfile", &ca_key, "-cert", &ca_cert, "-out",
            "good.crl",
        ],
    );
    let revoked = conf("revoked");
    let revoke = revoke.display().to_string();
    ossl(
        dir,
        &[
            "ca", "-config", &revoked, "-revoke", &revoke, "-keyfile", &ca_key, "-cert", &ca_cert,
        ],
    );
    ossl(
        dir,
        &[
            "ca",
            "-config",
            &revoked,
            "-gencrl",
            "-keyfile",
            &ca_key,
            "-cert",
            &ca_cert,
            "-out",
            "revoked.crl",
        ],
    );
    ossl(
        dir,
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
            "/CN=Unrelated CA",
            "-days",
            "30",
        ],
    );
    let other = conf("other");
    ossl(
        dir,
        &[
            "ca",
            "-config",
            &other,
            "-gencrl",
            "-keyfile",
            "other.key",
            "-cert",
            "other.crt",
            "-out",
            "other.crl",
        ],
    );
    [
        dir.join("good.crl"),
        dir.join("revoked.crl"),
        dir.join("other.crl"),
    ]
}

#[test]
fn test_acc_encryption_certificate() {
    let (_rt, mock, pki) = start_blocking_with_small_pki();
    let files = tempfile::tempdir().unwrap();
    let d = files.path();
    let pem = |x: &openssl::x509::X509| String::from_utf8(x.to_pem().unwrap()).unwrap();
    let enc29 = pem(&pki.encryption_cert);
    fs::write(d.join("enc29.crt"), &enc29).unwrap();
    fs::write(d.join("attestation.crt"), pem(&pki.attestation_cert)).unwrap();
    fs::write(
        d.join("bundle.pem"),
        format!("{}{}", pem(&pki.root), pem(&pki.intermediate)),
    )
    .unwrap();
    let pki_dir = mock.dir.path().join("pki");
    let [good_crl, revoked_crl, other_crl] = make_crls(
        d,
        &pki_dir.join("intermediate.crt"),
        &pki_dir.join("intermediate.key"),
        &d.join("enc29.crt"),
    );
    let other_root = d.join("other.crt");
    let template = format!(
        "{}/s390x-{{patch}}/ibm-hyper-protect-container-runtime-{{major}}-{{minor}}-s390x-{{patch}}-encrypt.crt",
        mock.url()
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dl = |version: &str, extra: &str| {
        cert_config(&format!(
            "  url_template = \"{template}\"\n  versions = [\"1.0.27\", \"1.0.28\", \"1.0.29\", \"1.0.30\"]\n  version = \"{version}\"\n{extra}"
        ))
    };
    let bundle = format!(
        "  ca_certificate = file(\"{}\")\n",
        d.join("bundle.pem").display()
    );
    let file_attr = |name: &str, path: &Path| format!("  {name} = file(\"{}\")\n", path.display());

    let enc29_check = enc29.clone();
    let enc29_given = enc29.clone();
    TestCase {
        name: "test_acc_encryption_certificate",
        providers: vec![ProviderUnderTest::hyperprotect()],
        env: vec![],
        check_destroy: None,
        steps: vec![
            // 1.0.30 is not published (404): the highest published match is 1.0.29.
            Step::config(
                "download the highest published match, chain and CRL checked",
                dl(
                    "~> 1.0.28",
                    &format!("{bundle}  crl = \"{}\"\n", good_crl.display()),
                ),
            )
            .check(move |s| {
                s.expect(CERT, "certificate", json!(enc29_check))?;
                s.expect(CERT, "selected_version", json!("1.0.29"))?;
                let days = attr(s, CERT, "days_left")?.as_i64().unwrap_or(-1);
                if !(363..=365).contains(&days) {
                    return Err(format!("days_left {days}"));
                }
                let url = attr(s, CERT, "url")?.as_str().unwrap_or("");
                if !url.ends_with(
                    "/s390x-29/ibm-hyper-protect-container-runtime-1-0-s390x-29-encrypt.crt",
                ) {
                    return Err(format!("url {url}"));
                }
                Ok(())
            }),
            Step::config("an older version that expires soon", dl("1.0.28", ""))
                .plan_check(expect_output("update"))
                .check(|s| {
                    s.expect(CERT, "selected_version", json!("1.0.28"))?;
                    let days = attr(s, CERT, "days_left")?.as_i64().unwrap_or(-1);
                    if !(88..=90).contains(&days) {
                        return Err(format!("days_left {days}"));
                    }
                    Ok(())
                }),
            Step::config(
                "a given certificate",
                cert_config(&format!(
                    "{}{bundle}",
                    file_attr("certificate", &d.join("enc29.crt"))
                )),
            )
            .plan_check(expect_output("update"))
            .check(move |s| {
                s.expect(CERT, "certificate", json!(enc29_given))?;
                s.expect(CERT, "selected_version", Value::Null)?;
                s.expect(CERT, "url", Value::Null)
            }),
            Step::config("expired", dl("1.0.27", "")).expect_error_at(
                "version",
                "Encryption certificate expired",
                r"already\s+expired\s+on",
            ),
            Step::config("no version matches", dl("~> 2.0", "")).expect_error_at(
                "version",
                "No matching encryption certificate",
                r"no certificate version matches\s+`~> 2.0`",
            ),
            Step::config(
                "unreachable URL",
                cert_config(&format!(
                    "  url_template = \"http://{closed}/{{patch}}.crt\"\n  version = \"1.0.29\"\n"
                )),
            )
            .expect_error_at(
                "url_template",
                "Cannot download the encryption certificate",
                r"cannot read\s+http://127\.0\.0\.1",
            ),
            Step::config(
                "malformed certificate",
                cert_config("  certificate = \"not a certificate\"\n"),
            )
            .expect_error_at(
                "certificate",
                "Invalid encryption certificate",
                r"not a PEM\s+certificate",
            ),
            Step::config(
                "wrong-purpose certificate",
                cert_config(&file_attr("certificate", &d.join("attestation.crt"))),
            )
            .expect_error_at(
                "certificate",
                "Wrong kind of certificate",
                r"is not an\s+encryption\s+certificate.*digitalSignature",
            ),
            Step::config(
                "a certificate and a version together",
                cert_config(&format!(
                    "{}  version = \"1.0.29\"\n",
                    file_attr("certificate", &d.join("enc29.crt"))
                )),
            )
            .expect_error_at(
                "version",
                "Conflicting certificate source",
                r"already\s+gives\s+one",
            ),
            Step::config(
                "chain to another root",
                dl("1.0.29", &file_attr("ca_certificate", &other_root)),
            )
            .expect_error_at(
                "ca_certificate",
                "Invalid CA certificate bundle",
                r"has no\s+certificate\s+whose\s+subject",
            ),
            Step::config(
                "revoked by the CRL",
                dl(
                    "1.0.29",
                    &format!("{bundle}  crl = \"{}\"\n", revoked_crl.display()),
                ),
            )
            .expect_error_at("crl", "Encryption certificate revoked", r"is\s+revoked"),
            Step::config(
                "CRL of another CA",
                dl(
                    "1.0.29",
                    &format!("{bundle}  crl = \"{}\"\n", other_crl.display()),
                ),
            )
            .expect_error_at("crl", "CRL check failed", r"CRL\s+issuer"),
            Step::config(
                "CRL without CA",
                dl("1.0.29", "  crl = \"/nonexistent.crl\"\n"),
            )
            .expect_error_at("crl", "CRL without its issuer", "ca_certificate"),
            Step::config(
                "a platform IBM publishes no location for",
                cert_config("  platform = \"ccrt\"\n  version = \"26.5.0\"\n"),
            )
            .expect_error_at(
                "platform",
                "No download location",
                r"no download location for\s+`ccrt`",
            ),
            Step::config(
                "a range without candidate versions",
                cert_config(&format!(
                    "  platform = \"ccrv\"\n  url_template = \"{template}\"\n  version = \"~> 26.5\"\n"
                )),
            )
            .expect_error_at("version", "No candidate versions", r"set\s+`versions`"),
        ],
    }
    .run();
    drop(mock);
}
