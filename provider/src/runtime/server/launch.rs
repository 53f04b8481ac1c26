//! How the process was started: command-line flags and the go-plugin environment, turned into
//! a [`Command`] before anything is bound or printed.
//!
//! Reading goes through a lookup function instead of `std::env` so every rule here is unit
//! tested without mutating the (process-global) environment.

use std::ffi::{OsStr, OsString};
use std::ops::RangeInclusive;
use std::path::PathBuf;

use openssl::x509::X509;
use thiserror::Error;

/// go-plugin's handshake cookie for Terraform providers (`TF_PLUGIN_MAGIC_COOKIE`).
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// The value Terraform sets it to.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// The only plugin protocol this provider speaks.
pub const PROTOCOL_VERSION: u32 = 6;
/// go-plugin's own protocol version, the first handshake field.
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// go-plugin's defaults when `PLUGIN_MIN_PORT`/`PLUGIN_MAX_PORT` are unset.
const DEFAULT_PORTS: RangeInclusive<u16> = 10000..=25000;

/// What the process was asked to do.
#[derive(Debug)]
pub enum Command {
    /// Print usage and exit successfully.
    Help,
    /// Serve the provider.
    Serve(Launch),
}

/// A validated request to serve: how to listen and how to secure connections.
#[derive(Debug)]
pub struct Launch {
    pub mode: Mode,
    pub listen: ListenConfig,
}

/// Who started us, which decides TLS, the announcement on stdout and Ctrl-C handling.
#[derive(Debug)]
pub enum Mode {
    /// Started by Terraform through go-plugin: handshake line, SIGINT ignored.
    Managed(Security),
    /// `--debug`: started by a developer; plaintext, reattach instructions, Ctrl-C stops.
    Debug,
}

/// Transport security of a managed launch.
#[derive(Debug)]
pub enum Security {
    /// AutoMTLS: only a client presenting exactly this certificate may connect.
    MutualTls { client_cert: X509 },
    /// `TF_DISABLE_PLUGIN_TLS`: plaintext h2c (test frameworks only).
    Plaintext,
}

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenConfig {
    /// Directory for the unix socket (`PLUGIN_UNIX_SOCKET_DIR`, else the temp dir).
    pub socket_dir: PathBuf,
    /// Ports to try for the TCP fallback (`PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT`).
    pub ports: RangeInclusive<u16>,
}

/// Why the process cannot serve as started.
#[derive(Debug, Error)]
pub enum LaunchError {
    #[error(
        "This binary is a plugin. These are not meant to be executed directly.\n\
         Please execute the program that consumes these plugins, which will\n\
         load any plugins automatically.\n\n\
         terraform-provider-hyperprotect is a Terraform provider: Terraform starts it when a\n\
         configuration uses the provider (see `terraform init`). To run it by hand for\n\
         debugging, start it with --debug and follow the instructions it prints."
    )]
    NotLaunchedByTerraform,
    #[error(
        "{MAGIC_COOKIE_KEY} has an unexpected value: this provider can only be started by Terraform"
    )]
    WrongCookie,
    #[error(
        "PLUGIN_PROTOCOL_VERSIONS is {offered:?}, but this provider only speaks plugin protocol \
         {PROTOCOL_VERSION}; use Terraform v0.15.0 or later"
    )]
    ProtocolNotOffered { offered: String },
    #[error("{name} must be a port number (0-65535), got {value:?}")]
    InvalidPort { name: &'static str, value: String },
    #[error("PLUGIN_MIN_PORT ({min}) is greater than PLUGIN_MAX_PORT ({max})")]
    EmptyPortRange { min: u16, max: u16 },
    #[error("PLUGIN_CLIENT_CERT does not hold a PEM certificate: {reason}")]
    ClientCert { reason: String },
    #[error("{name} is not valid UTF-8")]
    NotUnicode { name: &'static str },
    #[error("unknown argument {0:?}; see --help")]
    UnknownArgument(String),
}

/// Usage text for `--help`.
pub fn usage(program: &str) -> String {
    format!(
        "Terraform provider for IBM Hyper Protect / Confidential Computing.\n\n\
         Usage:\n  {program}            (started by Terraform; not meant to be run directly)\n  \
         {program} --debug    serve in debug mode and print TF_REATTACH_PROVIDERS\n  \
         {program} --help     show this text\n"
    )
}

/// Reads the arguments (without the program name) and the environment.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: impl Fn(&str) -> Option<OsString>,
) -> Result<Command, LaunchError> {
    let mut debug = false;
    for arg in args {
        // Accept the Go flag spellings too: terraform-plugin-go documents `-debug`.
        match arg.to_str() {
            Some("--help" | "-help" | "-h") => return Ok(Command::Help),
            Some("--debug" | "-debug") => debug = true,
            _ => {
                return Err(LaunchError::UnknownArgument(
                    arg.to_string_lossy().into_owned(),
                ))
            }
        }
    }
    let listen = listen_config(&env)?;
    if debug {
        return Ok(Command::Serve(Launch {
            mode: Mode::Debug,
            listen,
        }));
    }
    match env(MAGIC_COOKIE_KEY) {
        None => return Err(LaunchError::NotLaunchedByTerraform),
        Some(cookie) if cookie != OsStr::new(MAGIC_COOKIE_VALUE) => {
            return Err(LaunchError::WrongCookie)
        }
        Some(_) => {}
    }
    // Like go-plugin, a host that sends no list gets the server's version; Terraform always
    // sends one, and a list without 6 is refused here rather than by Terraform later.
    match text(&env, "PLUGIN_PROTOCOL_VERSIONS")? {
        Some(offered) if !offered.is_empty() && !offers_protocol(&offered, PROTOCOL_VERSION) => {
            return Err(LaunchError::ProtocolNotOffered { offered })
        }
        _ => {}
    }
    // go-plugin only hands out a client certificate when TLS is on; if both are somehow set,
    // the certificate wins, since ignoring it would drop authentication.
    let security = match text(&env, "PLUGIN_CLIENT_CERT")? {
        Some(pem) if !pem.trim().is_empty() => Security::MutualTls {
            client_cert: parse_client_cert(&pem)?,
        },
        _ => Security::Plaintext,
    };
    Ok(Command::Serve(Launch {
        mode: Mode::Managed(security),
        listen,
    }))
}

/// True when the comma-separated list (any order, spaces tolerated) holds `version`.
fn offers_protocol(offered: &str, version: u32) -> bool {
    offered
        .split(',')
        .any(|item| item.trim().parse::<u32>() == Ok(version))
}

fn parse_client_cert(pem: &str) -> Result<X509, LaunchError> {
    let mut certs = X509::stack_from_pem(pem.as_bytes()).map_err(|e| LaunchError::ClientCert {
        reason: e.to_string(),
    })?;
    match certs.len() {
        1 => Ok(certs.remove(0)),
        0 => Err(LaunchError::ClientCert {
            reason: "no CERTIFICATE block found".into(),
        }),
        n => Err(LaunchError::ClientCert {
            reason: format!("expected one certificate, found {n}"),
        }),
    }
}

fn listen_config(env: &impl Fn(&str) -> Option<OsString>) -> Result<ListenConfig, LaunchError> {
    let socket_dir = env("PLUGIN_UNIX_SOCKET_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let min = port(env, "PLUGIN_MIN_PORT")?.unwrap_or(*DEFAULT_PORTS.start());
    let max = port(env, "PLUGIN_MAX_PORT")?.unwrap_or(*DEFAULT_PORTS.end());
    if min > max {
        return Err(LaunchError::EmptyPortRange { min, max });
    }
    Ok(ListenConfig {
        socket_dir,
        ports: min..=max,
    })
}

fn port(
    env: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
) -> Result<Option<u16>, LaunchError> {
    match text(env, name)? {
        None => Ok(None),
        Some(value) if value.trim().is_empty() => Ok(None),
        Some(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| LaunchError::InvalidPort { name, value }),
    }
}

fn text(
    env: &impl Fn(&str) -> Option<OsString>,
    name: &'static str,
) -> Result<Option<String>, LaunchError> {
    env(name)
        .map(|value| {
            value
                .into_string()
                .map_err(|_| LaunchError::NotUnicode { name })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::X509NameBuilder;

    fn env(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<OsString> {
        move |name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    fn terraform_env(extra: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<OsString> {
        let mut pairs = vec![
            (MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE.to_owned()),
            ("PLUGIN_PROTOCOL_VERSIONS", "5,6".to_owned()),
        ];
        for (key, value) in extra {
            pairs.retain(|(k, _)| *k != key);
            pairs.push((key, value));
        }
        env(pairs)
    }

    fn some_cert_pem() -> String {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("curve");
        let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "localhost").expect("cn");
        let name = name.build();
        let mut cert = X509::builder().expect("builder");
        cert.set_subject_name(&name).expect("subject");
        cert.set_issuer_name(&name).expect("issuer");
        cert.set_pubkey(&key).expect("pubkey");
        let start = openssl::asn1::Asn1Time::days_from_now(0).expect("now");
        let end = openssl::asn1::Asn1Time::days_from_now(1).expect("tomorrow");
        cert.set_not_before(&start).expect("not before");
        cert.set_not_after(&end).expect("not after");
        cert.sign(&key, MessageDigest::sha256()).expect("sign");
        String::from_utf8(cert.build().to_pem().expect("pem")).expect("utf8")
    }

    fn serve(result: Result<Command, LaunchError>) -> Launch {
        match result {
            Ok(Command::Serve(launch)) => launch,
            other => panic!("expected Serve, got {other:?}"),
        }
    }

    #[test]
    fn no_cookie_means_not_launched_by_terraform() {
        let err = parse([], env(vec![])).expect_err("must refuse");
        assert!(matches!(err, LaunchError::NotLaunchedByTerraform));
        assert!(err.to_string().contains("This binary is a plugin"));
        assert!(err.to_string().contains("--debug"));
        let err = parse([], env(vec![(MAGIC_COOKIE_KEY, "nope".into())])).expect_err("refuse");
        assert!(matches!(err, LaunchError::WrongCookie));
    }

    #[test]
    fn picks_protocol_six_in_any_order() {
        for offered in ["5,6", "6,5", "6", " 5 , 6 ", "x,6", ""] {
            let launch = serve(parse(
                [],
                terraform_env(vec![("PLUGIN_PROTOCOL_VERSIONS", offered.into())]),
            ));
            assert!(matches!(launch.mode, Mode::Managed(Security::Plaintext)));
        }
        for offered in ["5", "56", "4,5", "7", "x"] {
            let err = parse(
                [],
                terraform_env(vec![("PLUGIN_PROTOCOL_VERSIONS", offered.into())]),
            )
            .expect_err("6 not offered");
            assert!(
                matches!(&err, LaunchError::ProtocolNotOffered { offered: o } if o == offered),
                "{err:?}"
            );
            assert!(err.to_string().contains("only speaks plugin protocol 6"));
        }
        // No list at all (a legacy host): go-plugin serves its own version.
        let cookie_only = env(vec![(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE.to_owned())]);
        let launch = serve(parse([], cookie_only));
        assert!(matches!(launch.mode, Mode::Managed(Security::Plaintext)));
    }

    #[test]
    fn client_cert_enables_mutual_tls() {
        let pem = some_cert_pem();
        let launch = serve(parse(
            [],
            terraform_env(vec![("PLUGIN_CLIENT_CERT", pem.clone())]),
        ));
        match launch.mode {
            Mode::Managed(Security::MutualTls { client_cert }) => {
                assert_eq!(client_cert.to_pem().expect("pem"), pem.as_bytes());
            }
            other => panic!("{other:?}"),
        }
        let err = parse(
            [],
            terraform_env(vec![("PLUGIN_CLIENT_CERT", "garbage".into())]),
        )
        .expect_err("bad pem");
        assert!(err
            .to_string()
            .starts_with("PLUGIN_CLIENT_CERT does not hold"));
        let two = format!("{pem}{pem}");
        let err = parse([], terraform_env(vec![("PLUGIN_CLIENT_CERT", two)])).expect_err("two");
        assert!(err.to_string().contains("found 2"), "{err}");
    }

    #[test]
    fn debug_and_help_need_no_cookie() {
        let launch = serve(parse([OsString::from("--debug")], env(vec![])));
        assert!(matches!(launch.mode, Mode::Debug));
        let launch = serve(parse([OsString::from("-debug")], env(vec![])));
        assert!(matches!(launch.mode, Mode::Debug));
        assert!(matches!(
            parse([OsString::from("--help")], env(vec![])),
            Ok(Command::Help)
        ));
        let err = parse([OsString::from("--verbose")], terraform_env(vec![])).expect_err("unknown");
        assert!(err.to_string().contains("--verbose"));
    }

    #[test]
    fn listen_config_from_environment() {
        let launch = serve(parse(
            [],
            terraform_env(vec![
                ("PLUGIN_UNIX_SOCKET_DIR", "/run/sockets".into()),
                ("PLUGIN_MIN_PORT", "12000".into()),
                ("PLUGIN_MAX_PORT", "12010".into()),
            ]),
        ));
        assert_eq!(
            launch.listen,
            ListenConfig {
                socket_dir: PathBuf::from("/run/sockets"),
                ports: 12000..=12010,
            }
        );
        let launch = serve(parse([], terraform_env(vec![])));
        assert_eq!(launch.listen.ports, 10000..=25000);
        assert_eq!(launch.listen.socket_dir, std::env::temp_dir());

        let err = parse([], terraform_env(vec![("PLUGIN_MIN_PORT", "x".into())])).expect_err("");
        assert!(err.to_string().contains("PLUGIN_MIN_PORT must be a port"));
        let err = parse(
            [],
            terraform_env(vec![
                ("PLUGIN_MIN_PORT", "20".into()),
                ("PLUGIN_MAX_PORT", "10".into()),
            ]),
        )
        .expect_err("empty");
        assert!(matches!(
            err,
            LaunchError::EmptyPortRange { min: 20, max: 10 }
        ));
    }
}
