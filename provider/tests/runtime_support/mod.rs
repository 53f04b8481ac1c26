//! Playing Terraform's side of go-plugin against the built provider binary: the AutoMTLS
//! client certificate as go-plugin makes it, launching the process with Terraform's
//! environment, parsing the handshake line, and gRPC channels over pinned mutual TLS.

#![allow(dead_code)] // Each test binary uses its own subset.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hyper_util::rt::TokioIo;
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{Ssl, SslContext, SslMethod, SslVerifyMode, SslVersion};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::{X509NameBuilder, X509};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio_openssl::SslStream;
use tonic::transport::{Channel, Endpoint, Uri};

pub(crate) const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-hyperprotect");
pub(crate) const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// A client identity made exactly like go-plugin's `generateCert`: ECDSA P-521,
/// ecdsa-with-SHA512, O=HashiCorp CN=localhost, SAN localhost, CA:TRUE, KeyUsage
/// digitalSignature|keyEncipherment|keyAgreement|keyCertSign, EKU clientAuth+serverAuth,
/// notBefore now-30 s, notAfter now+262980 h.
pub(crate) struct ClientIdentity {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl ClientIdentity {
    pub(crate) fn go_plugin() -> Self {
        let group = EcGroup::from_curve_name(Nid::SECP521R1).expect("P-521");
        let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_nid(Nid::ORGANIZATIONNAME, "HashiCorp")
            .expect("O");
        name.append_entry_by_nid(Nid::COMMONNAME, "localhost")
            .expect("CN");
        let name = name.build();
        let mut serial = BigNum::new().expect("bn");
        serial
            .rand(127, MsbOption::MAYBE_ZERO, false)
            .expect("rand");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64;
        let mut b = X509::builder().expect("builder");
        b.set_version(2).expect("v3");
        b.set_serial_number(&Asn1Integer::from_bn(&serial).expect("serial"))
            .expect("serial");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(&name).expect("issuer");
        b.set_pubkey(&key).expect("pubkey");
        b.set_not_before(&Asn1Time::from_unix(now - 30).expect("t"))
            .expect("nb");
        b.set_not_after(&Asn1Time::from_unix(now + 262_980 * 3600).expect("t"))
            .expect("na");
        b.append_extension(BasicConstraints::new().critical().ca().build().expect("bc"))
            .expect("bc");
        b.append_extension(
            KeyUsage::new()
                .critical()
                .digital_signature()
                .key_encipherment()
                .key_agreement()
                .key_cert_sign()
                .build()
                .expect("ku"),
        )
        .expect("ku");
        b.append_extension(
            ExtendedKeyUsage::new()
                .client_auth()
                .server_auth()
                .build()
                .expect("eku"),
        )
        .expect("eku");
        let san = SubjectAlternativeName::new()
            .dns("localhost")
            .build(&b.x509v3_context(None, None))
            .expect("san");
        b.append_extension(san).expect("san");
        b.sign(&key, MessageDigest::sha512()).expect("sign");
        Self {
            cert: b.build(),
            key,
        }
    }

    /// A leaf for `localhost` issued by `issuer` (which is CA:TRUE, as go-plugin's is), so it
    /// chains to the pinned certificate without being it.
    pub(crate) fn issued_by(issuer: &ClientIdentity) -> Self {
        let group = EcGroup::from_curve_name(Nid::SECP521R1).expect("P-521");
        let key = PKey::from_ec_key(EcKey::generate(&group).expect("key")).expect("pkey");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_nid(Nid::COMMONNAME, "localhost")
            .expect("CN");
        let name = name.build();
        let mut b = X509::builder().expect("builder");
        b.set_version(2).expect("v3");
        b.set_subject_name(&name).expect("subject");
        b.set_issuer_name(issuer.cert.subject_name())
            .expect("issuer");
        b.set_pubkey(&key).expect("pubkey");
        b.set_not_before(&Asn1Time::days_from_now(0).expect("t"))
            .expect("nb");
        b.set_not_after(&Asn1Time::days_from_now(1).expect("t"))
            .expect("na");
        b.append_extension(ExtendedKeyUsage::new().client_auth().build().expect("eku"))
            .expect("eku");
        b.sign(&issuer.key, MessageDigest::sha512()).expect("sign");
        Self {
            cert: b.build(),
            key,
        }
    }

    pub(crate) fn pem(&self) -> String {
        String::from_utf8(self.cert.to_pem().expect("pem")).expect("utf8")
    }
}

/// The six fields of go-plugin's handshake line.
#[derive(Debug)]
pub(crate) struct Handshake {
    pub core: String,
    pub app: String,
    pub network: String,
    pub address: String,
    pub protocol: String,
    pub cert_base64: String,
}

impl Handshake {
    pub(crate) fn parse(line: &str) -> Self {
        let line = line.strip_suffix('\n').expect("line ends in a newline");
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields.len(), 6, "six fields in {line:?}");
        Self {
            core: fields[0].into(),
            app: fields[1].into(),
            network: fields[2].into(),
            address: fields[3].into(),
            protocol: fields[4].into(),
            cert_base64: fields[5].into(),
        }
    }

    /// The server certificate, decoded as Terraform does (unpadded standard base64 of DER).
    pub(crate) fn server_cert(&self) -> X509 {
        let der = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(&self.cert_base64)
            .expect("unpadded standard base64");
        X509::from_der(&der).expect("DER certificate")
    }
}

/// Collects a child's stderr in the background so the pipe never fills.
#[derive(Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

/// A provider process started like Terraform starts it. Killed on drop.
pub(crate) struct Plugin {
    pub child: Child,
    /// stdout, line by line, read in the background.
    pub stdout: mpsc::Receiver<String>,
    pub stderr: Captured,
    pub tmp: tempfile::TempDir,
}

impl Plugin {
    /// Terraform's environment (cookie, `5,6`, the client certificate) plus `extra`; the rest
    /// of the environment is cleared so the test does not depend on the caller's.
    pub(crate) fn terraform(client: Option<&ClientIdentity>, extra: &[(&str, &str)]) -> Self {
        let mut env = vec![
            ("TF_PLUGIN_MAGIC_COOKIE".to_owned(), COOKIE.to_owned()),
            ("PLUGIN_PROTOCOL_VERSIONS".to_owned(), "5,6".to_owned()),
            ("PLUGIN_MIN_PORT".to_owned(), "10000".to_owned()),
            ("PLUGIN_MAX_PORT".to_owned(), "25000".to_owned()),
        ];
        if let Some(client) = client {
            env.push(("PLUGIN_CLIENT_CERT".to_owned(), client.pem()));
        }
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push(((*key).to_owned(), (*value).to_owned()));
        }
        Self::spawn(&[], &env)
    }

    pub(crate) fn spawn(args: &[&str], env: &[(String, String)]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(BINARY)
            .args(args)
            .env_clear()
            .env("TMPDIR", tmp.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn provider");
        let (line_tx, stdout) = mpsc::channel();
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        std::thread::spawn(move || loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    if line_tx.send(line).is_err() {
                        return;
                    }
                }
            }
        });
        let stderr = Captured::default();
        let mut pipe = child.stderr.take().expect("stderr");
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.0.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        Self {
            child,
            stdout,
            stderr,
            tmp,
        }
    }

    /// The next stdout line (with its `\n`), failing the test after `timeout`.
    pub(crate) fn read_line(&mut self, timeout: Duration) -> String {
        self.stdout.recv_timeout(timeout).unwrap_or_else(|_| {
            panic!(
                "no stdout line within {timeout:?}; stderr: {}",
                self.stderr.text()
            )
        })
    }

    pub(crate) fn handshake(&mut self) -> Handshake {
        let line = self.read_line(Duration::from_secs(20));
        Handshake::parse(&line)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name}");
    }

    /// Waits for exit, at most `timeout`; `None` if still running. Polls with an async sleep
    /// so the test's own gRPC connection tasks keep running meanwhile, as Terraform's do (the
    /// server's graceful shutdown waits for the client to answer an HTTP/2 ping).
    pub(crate) async fn wait_exit_async(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let until = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    pub(crate) fn socket_path(&self, handshake: &Handshake) -> PathBuf {
        assert_eq!(handshake.network, "unix");
        PathBuf::from(&handshake.address)
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            drop(self.child.kill());
            drop(self.child.wait());
        }
    }
}

pub(crate) async fn dial(handshake: &Handshake) -> std::io::Result<Box<dyn Io>> {
    match handshake.network.as_str() {
        "unix" => Ok(Box::new(UnixStream::connect(&handshake.address).await?)),
        "tcp" => Ok(Box::new(TcpStream::connect(&handshake.address).await?)),
        other => panic!("unexpected network {other}"),
    }
}

pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Terraform's TLS client: presents `client`, trusts only the handshake's certificate (and
/// checks it names `localhost`), TLS 1.2+, offers ALPN h2.
pub(crate) fn terraform_tls_context(client: &ClientIdentity, server_cert: &X509) -> SslContext {
    let mut b = SslContext::builder(SslMethod::tls_client()).expect("ctx");
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .expect("min");
    b.set_certificate(&client.cert).expect("cert");
    b.set_private_key(&client.key).expect("key");
    let mut store = X509StoreBuilder::new().expect("store");
    store.add_cert(server_cert.clone()).expect("pin");
    b.set_verify_cert_store(store.build())
        .expect("verify store");
    b.set_verify(SslVerifyMode::PEER);
    b.set_alpn_protos(b"\x02h2").expect("alpn");
    b.build()
}

/// A TLS connection as Terraform makes it; errors are returned, not asserted.
pub(crate) async fn tls_connect(
    handshake: &Handshake,
    ctx: &SslContext,
) -> Result<SslStream<Box<dyn Io>>, String> {
    let raw = dial(handshake).await.map_err(|e| e.to_string())?;
    let mut ssl = Ssl::new(ctx).map_err(|e| e.to_string())?;
    ssl.param_mut()
        .set_host("localhost")
        .map_err(|e| e.to_string())?;
    ssl.set_hostname("localhost").map_err(|e| e.to_string())?;
    let mut stream = SslStream::new(ssl, raw).map_err(|e| e.to_string())?;
    Pin::new(&mut stream)
        .connect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(stream)
}

/// A tonic channel over pinned mutual TLS.
pub(crate) async fn tls_channel(handshake: &Handshake, client: &ClientIdentity) -> Channel {
    let ctx = terraform_tls_context(client, &handshake.server_cert());
    let handshake = Arc::new(Handshake::parse(&format!(
        "{}|{}|{}|{}|{}|{}\n",
        handshake.core,
        handshake.app,
        handshake.network,
        handshake.address,
        handshake.protocol,
        handshake.cert_base64
    )));
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let handshake = Arc::clone(&handshake);
            let ctx = ctx.clone();
            async move {
                let stream = tls_connect(&handshake, &ctx)
                    .await
                    .map_err(std::io::Error::other)?;
                assert_eq!(
                    stream.ssl().selected_alpn_protocol(),
                    Some(&b"h2"[..]),
                    "server must select ALPN h2"
                );
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        }))
        .await
        .expect("gRPC channel over mTLS")
}

/// A tonic channel over plaintext h2c (TLS disabled, or debug mode).
pub(crate) async fn plaintext_channel(network: &str, address: &str) -> Channel {
    let handshake = Arc::new(Handshake {
        core: "1".into(),
        app: "6".into(),
        network: network.into(),
        address: address.into(),
        protocol: "grpc".into(),
        cert_base64: String::new(),
    });
    Endpoint::from_static("http://localhost")
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let handshake = Arc::clone(&handshake);
            async move { Ok::<_, std::io::Error>(TokioIo::new(dial(&handshake).await?)) }
        }))
        .await
        .expect("plaintext gRPC channel")
}
