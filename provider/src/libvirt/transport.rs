//! Opening the byte stream a libvirt connection runs over: a local UNIX socket, TCP, TLS
//! with client certificates (libvirt's default PKI paths unless `pkipath=` says
//! otherwise), or the system `ssh` client running `virt-ssh-helper` (or `nc -U`) on the
//! host, so the user's SSH configuration, agent and known hosts apply as they do for
//! `virsh`.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};

use openssl::ssl::{SslConnector, SslFiletype, SslMethod, SslVerifyMode};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::uri::{ConnectUri, Transport};
use super::Error;

/// libvirtd's TCP port.
pub const TCP_PORT: u16 = 16509;
/// libvirtd's TLS port.
pub const TLS_PORT: u16 = 16514;

/// A byte stream to libvirtd.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens the transport `uri` names.
pub async fn connect(uri: &ConnectUri) -> Result<Box<dyn Io>, Error> {
    match uri.transport {
        Transport::Unix => {
            let path = unix_socket_path(uri);
            let s = UnixStream::connect(&path).await.map_err(|e| {
                Error::Connect(format!(
                    "connecting to libvirt's socket {}: {e}",
                    path.display()
                ))
            })?;
            Ok(Box::new(s))
        }
        Transport::Tcp => Ok(Box::new(tcp(uri, TCP_PORT).await?)),
        Transport::Tls => tls(uri).await,
        Transport::Ssh => ssh(uri),
    }
}

async fn tcp(uri: &ConnectUri, default_port: u16) -> Result<TcpStream, Error> {
    let host = uri.host.as_deref().unwrap_or("localhost");
    let port = uri.port.unwrap_or(default_port);
    let s = TcpStream::connect((host, port))
        .await
        .map_err(|e| Error::Connect(format!("connecting to libvirt at {host}:{port}: {e}")))?;
    let _ = s.set_nodelay(true);
    Ok(s)
}

/// The local socket: `?socket=`, else libvirt's defaults (the modular `virtqemud`
/// socket when present, else `libvirtd`'s), per-user for `/session`.
pub fn unix_socket_path(uri: &ConnectUri) -> PathBuf {
    if let Some(s) = uri.param("socket") {
        return PathBuf::from(s);
    }
    let dir = if uri.is_session() {
        match std::env::var_os("XDG_RUNTIME_DIR") {
            Some(d) => PathBuf::from(d).join("libvirt"),
            None => PathBuf::from("/run/user")
                .join(current_uid().to_string())
                .join("libvirt"),
        }
    } else {
        PathBuf::from("/var/run/libvirt")
    };
    let modular = dir.join(format!("virt{}d-sock", uri.driver));
    if modular.exists() {
        modular
    } else {
        dir.join("libvirt-sock")
    }
}

fn current_uid() -> u32 {
    // The owner of /proc/self is this process's user; avoids an FFI call for getuid.
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .unwrap_or(0)
}

/// libvirt's client PKI files: `cacert.pem`, `clientcert.pem`, `clientkey.pem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PkiPaths {
    pub ca_cert: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl PkiPaths {
    /// `pkipath=DIR` holds all three; otherwise root uses `/etc/pki/CA/cacert.pem` and
    /// `/etc/pki/libvirt/{clientcert.pem,private/clientkey.pem}`, and other users
    /// `~/.pki/libvirt/` when it has them (libvirt's own defaults).
    pub fn for_uri(uri: &ConnectUri) -> PkiPaths {
        if let Some(dir) = uri.param("pkipath") {
            return PkiPaths::in_dir(Path::new(dir));
        }
        if current_uid() != 0 {
            if let Some(home) = std::env::var_os("HOME") {
                let user_dir = PathBuf::from(home).join(".pki/libvirt");
                if user_dir.join("clientcert.pem").exists() {
                    return PkiPaths::in_dir(&user_dir);
                }
            }
        }
        PkiPaths {
            ca_cert: PathBuf::from("/etc/pki/CA/cacert.pem"),
            client_cert: PathBuf::from("/etc/pki/libvirt/clientcert.pem"),
            client_key: PathBuf::from("/etc/pki/libvirt/private/clientkey.pem"),
        }
    }

    fn in_dir(dir: &Path) -> PkiPaths {
        PkiPaths {
            ca_cert: dir.join("cacert.pem"),
            client_cert: dir.join("clientcert.pem"),
            client_key: dir.join("clientkey.pem"),
        }
    }
}

async fn tls(uri: &ConnectUri) -> Result<Box<dyn Io>, Error> {
    let pki = PkiPaths::for_uri(uri);
    let host = uri.host.clone().unwrap_or_default();
    let tls_err = |what: &str, path: &Path, e: openssl::error::ErrorStack| {
        Error::Connect(format!("libvirt TLS: {what} {}: {e}", path.display()))
    };
    let mut b = SslConnector::builder(SslMethod::tls_client())
        .map_err(|e| Error::Connect(format!("libvirt TLS: {e}")))?;
    b.set_ca_file(&pki.ca_cert)
        .map_err(|e| tls_err("reading the CA certificate", &pki.ca_cert, e))?;
    b.set_certificate_chain_file(&pki.client_cert)
        .map_err(|e| tls_err("reading the client certificate", &pki.client_cert, e))?;
    b.set_private_key_file(&pki.client_key, SslFiletype::PEM)
        .map_err(|e| tls_err("reading the client key", &pki.client_key, e))?;
    let no_verify = uri.flag("no_verify");
    if no_verify {
        b.set_verify(SslVerifyMode::NONE);
    }
    let connector = b.build();
    let mut config = connector
        .configure()
        .map_err(|e| Error::Connect(format!("libvirt TLS: {e}")))?;
    if no_verify {
        config.set_verify_hostname(false);
    }
    let ssl = config
        .into_ssl(&host)
        .map_err(|e| Error::Connect(format!("libvirt TLS: {e}")))?;
    let tcp = tcp(uri, TLS_PORT).await?;
    let mut stream = tokio_openssl::SslStream::new(ssl, tcp)
        .map_err(|e| Error::Connect(format!("libvirt TLS: {e}")))?;
    Pin::new(&mut stream)
        .connect()
        .await
        .map_err(|e| Error::Connect(format!("libvirt TLS handshake with {host}: {e}")))?;
    // After the handshake libvirtd checks our certificate against its allow-list and
    // sends one byte: 1 when it accepts us.
    let mut verdict = [0u8; 1];
    stream
        .read_exact(&mut verdict)
        .await
        .map_err(|e| Error::Connect(format!("libvirt TLS: reading the server's verdict: {e}")))?;
    if verdict[0] != 1 {
        return Err(Error::Connect(format!(
            "libvirt at {host} refused our client certificate {} (its tls_allowed_dn_list or certificate checks)",
            pki.client_cert.display()
        )));
    }
    Ok(Box::new(stream))
}

/// The argument list for the system `ssh` (also used by tests to check it).
pub fn ssh_command(uri: &ConnectUri) -> (String, Vec<String>) {
    let program = uri.param("command").unwrap_or("ssh").to_string();
    let mut args = Vec::new();
    if let Some(p) = uri.port {
        args.extend(["-p".to_string(), p.to_string()]);
    }
    if let Some(u) = &uri.user {
        args.extend(["-l".to_string(), u.clone()]);
    }
    if let Some(k) = uri.param("keyfile") {
        args.extend(["-i".to_string(), k.to_string()]);
    }
    if let Some(k) = uri.param("known_hosts") {
        args.extend(["-o".to_string(), format!("UserKnownHostsFile={k}")]);
    }
    if uri.flag("no_verify") {
        args.extend(["-o".to_string(), "StrictHostKeyChecking=no".to_string()]);
    }
    // The provider has no terminal to ask on: fail fast instead of hanging on a prompt.
    args.extend([
        "-T".to_string(),
        "-e".to_string(),
        "none".to_string(),
        "-o".to_string(),
        "BatchMode=yes".to_string(),
        "--".to_string(),
        uri.host.clone().unwrap_or_default(),
    ]);
    let name = uri.remote_name();
    let netcat = uri.param("netcat").unwrap_or("nc");
    let socket = uri.param("socket").map(str::to_string).unwrap_or_else(|| {
        if uri.is_session() {
            "$XDG_RUNTIME_DIR/libvirt/libvirt-sock".to_string()
        } else {
            "/var/run/libvirt/libvirt-sock".to_string()
        }
    });
    let remote = match uri.param("proxy").unwrap_or("auto") {
        "native" => format!("virt-ssh-helper {}", shell_quote(&name)),
        "netcat" => format!("{} -U {}", shell_quote(netcat), shell_quote(&socket)),
        // libvirt's "auto": the helper when the host has it, else netcat on the socket.
        _ => format!(
            "sh -c {}",
            shell_quote(&format!(
                "if command -v virt-ssh-helper >/dev/null 2>&1; then exec virt-ssh-helper {}; else exec {} -U {}; fi",
                shell_quote(&name),
                shell_quote(netcat),
                socket
            ))
        ),
    };
    args.push(remote);
    (program, args)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn ssh(uri: &ConnectUri) -> Result<Box<dyn Io>, Error> {
    let (program, args) = ssh_command(uri);
    let mut child = Command::new(&program)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::Connect(format!("running {program} to reach libvirt: {e}")))?;
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    Ok(Box::new(ChildIo {
        _child: child,
        stdin,
        stdout,
    }))
}

/// A child process's stdout and stdin as one stream; the child is killed when dropped.
struct ChildIo {
    _child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl AsyncRead for ChildIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdout).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stdin).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stdin).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_runs_the_helper_or_netcat_with_the_users_ssh_settings() {
        let uri = ConnectUri::parse("qemu+ssh://admin@lpar1:2222/system?keyfile=/k").unwrap();
        let (program, args) = ssh_command(&uri);
        assert_eq!(program, "ssh");
        let joined = args.join(" ");
        assert!(
            joined.starts_with("-p 2222 -l admin -i /k -T -e none -o BatchMode=yes -- lpar1 "),
            "{joined}"
        );
        let remote = args.last().unwrap();
        assert!(
            remote.contains("virt-ssh-helper '\\''qemu:///system'\\''"),
            "{remote}"
        );
        assert!(
            remote.contains("-U /var/run/libvirt/libvirt-sock"),
            "{remote}"
        );

        let uri = ConnectUri::parse("qemu+ssh://h/system?proxy=netcat&socket=/s").unwrap();
        assert_eq!(ssh_command(&uri).1.last().unwrap(), "'nc' -U '/s'");
    }

    #[test]
    fn pki_paths_follow_libvirt_defaults_or_pkipath() {
        let uri = ConnectUri::parse("qemu+tls://h/system?pkipath=/p").unwrap();
        assert_eq!(
            PkiPaths::for_uri(&uri).client_key,
            PathBuf::from("/p/clientkey.pem")
        );
    }

    #[tokio::test]
    async fn a_missing_socket_names_the_path() {
        let uri =
            ConnectUri::parse("qemu+unix:///system?socket=/nonexistent/libvirt-sock").unwrap();
        let e = connect(&uri).await.err().unwrap().to_string();
        assert!(e.contains("/nonexistent/libvirt-sock"), "{e}");
    }
}
