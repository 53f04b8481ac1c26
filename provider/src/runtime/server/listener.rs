//! Listening sockets and accepted connections: a unix socket in a private directory (removed
//! on drop), a TCP fallback on 127.0.0.1, and the stream type tonic serves over, plain or TLS.
//!
//! The accept loop runs TLS handshakes in their own tasks and feeds only finished connections
//! to tonic, so one slow or hostile client neither stalls others nor stops the server.

use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use openssl::ssl::{Ssl, SslAcceptor};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_openssl::SslStream;
use tonic::transport::server::Connected;

use super::launch::ListenConfig;
use super::shutdown::Shutdown;

/// A client that has not finished its TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// `sun_path` holds 108 bytes including the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

/// A bound listener and the address to announce. Plain std sockets, so binding (and the
/// handshake line) can happen before the async runtime exists; see [`Bound::activate`].
#[derive(Debug)]
pub(super) enum Bound {
    Unix {
        listener: std::os::unix::net::UnixListener,
        socket: SocketFiles,
    },
    Tcp(std::net::TcpListener),
}

impl Bound {
    /// A unix socket under `config.socket_dir`, or, when that is impossible (path too long,
    /// directory not writable), TCP on the first free port of `config.ports`.
    pub(super) fn bind(config: &ListenConfig) -> io::Result<Self> {
        match bind_unix(&config.socket_dir) {
            Ok((listener, socket)) => Ok(Self::Unix { listener, socket }),
            Err(unix_error) => {
                tracing::debug!(error = %unix_error, "unix socket unavailable, falling back to TCP");
                bind_tcp(config)
            }
        }
    }

    /// A unix socket only, as debug mode promises.
    pub(super) fn bind_unix(dir: &Path) -> io::Result<Self> {
        let (listener, socket) = bind_unix(dir)?;
        Ok(Self::Unix { listener, socket })
    }

    /// go-plugin's NETWORK field.
    pub(super) fn network(&self) -> &'static str {
        match self {
            Self::Unix { .. } => "unix",
            Self::Tcp(_) => "tcp",
        }
    }

    /// go-plugin's ADDRESS field: the socket path or `127.0.0.1:<port>`.
    pub(super) fn address(&self) -> io::Result<String> {
        match self {
            Self::Unix { socket, .. } => socket
                .path
                .to_str()
                .map(str::to_owned)
                .ok_or_else(|| io::Error::other("socket path is not valid UTF-8")),
            Self::Tcp(listener) => Ok(listener.local_addr()?.to_string()),
        }
    }

    /// Hands the socket to the tokio reactor; must be called inside a runtime.
    pub(super) fn activate(self) -> io::Result<Listener> {
        match self {
            Self::Unix { listener, socket } => {
                listener.set_nonblocking(true)?;
                Ok(Listener::Unix {
                    listener: UnixListener::from_std(listener)?,
                    _socket: socket,
                })
            }
            Self::Tcp(listener) => {
                listener.set_nonblocking(true)?;
                Ok(Listener::Tcp(TcpListener::from_std(listener)?))
            }
        }
    }
}

/// A listener registered with tokio. Dropping it removes the unix socket.
#[derive(Debug)]
pub(super) enum Listener {
    Unix {
        listener: UnixListener,
        _socket: SocketFiles,
    },
    Tcp(TcpListener),
}

impl Listener {
    fn network(&self) -> &'static str {
        match self {
            Self::Unix { .. } => "unix",
            Self::Tcp(_) => "tcp",
        }
    }

    async fn accept(&self) -> io::Result<Transport> {
        match self {
            Self::Unix { listener, .. } => Ok(Transport::Unix(listener.accept().await?.0)),
            Self::Tcp(listener) => {
                let (stream, _) = listener.accept().await?;
                // gRPC frames are small and latency-bound.
                drop(stream.set_nodelay(true));
                Ok(Transport::Tcp(stream))
            }
        }
    }
}

/// The socket file and its private directory; both are removed on drop.
#[derive(Debug)]
pub(super) struct SocketFiles {
    dir: PathBuf,
    path: PathBuf,
}

#[cfg(test)]
impl SocketFiles {
    /// The socket's path.
    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFiles {
    fn drop(&mut self) {
        drop(std::fs::remove_file(&self.path));
        drop(std::fs::remove_dir(&self.dir));
    }
}

/// The socket lives in a fresh 0700 directory so no other local user can connect, which
/// matters in plaintext modes (debug, `TF_DISABLE_PLUGIN_TLS`).
fn bind_unix(parent: &Path) -> io::Result<(std::os::unix::net::UnixListener, SocketFiles)> {
    let mut last_error = None;
    for _ in 0..8 {
        let mut random = [0u8; 8];
        openssl::rand::rand_bytes(&mut random).map_err(io::Error::other)?;
        let dir = parent.join(format!("tf-hyperprotect-{}", hex::encode(random)));
        let path = dir.join("plugin.sock");
        if path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("socket path {} is too long", path.display()),
            ));
        }
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                last_error = Some(e);
                continue;
            }
            Err(e) => return Err(e),
        }
        let socket = SocketFiles { dir, path };
        let listener = std::os::unix::net::UnixListener::bind(&socket.path)?;
        return Ok((listener, socket));
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free socket directory name")))
}

fn bind_tcp(config: &ListenConfig) -> io::Result<Bound> {
    let mut last_error = None;
    for port in config.ports.clone() {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        match std::net::TcpListener::bind(addr) {
            Ok(listener) => return Ok(Bound::Tcp(listener)),
            Err(e) => last_error = Some(e),
        }
    }
    let range = format!("{}..={}", config.ports.start(), config.ports.end());
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        format!(
            "no free TCP port in {range}: {}",
            last_error.map_or_else(|| "empty range".into(), |e| e.to_string())
        ),
    ))
}

/// A raw accepted connection.
#[derive(Debug)]
pub(super) enum Transport {
    Unix(UnixStream),
    Tcp(TcpStream),
}

/// What tonic serves over: a transport, with or without TLS.
#[derive(Debug)]
pub(super) enum Conn {
    Plain(Transport),
    Tls(Box<SslStream<Transport>>),
}

impl Connected for Conn {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}

/// Delegates the four I/O methods to whichever variant is live.
macro_rules! delegate_io {
    ($self:ident, $inner:ident => $call:expr) => {
        match $self.get_mut() {
            Transport::Unix($inner) => {
                let $inner = Pin::new($inner);
                $call
            }
            Transport::Tcp($inner) => {
                let $inner = Pin::new($inner);
                $call
            }
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate_io!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate_io!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate_io!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate_io!(self, s => s.poll_shutdown(cx))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate_io!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Unix(s) => s.is_write_vectored(),
            Self::Tcp(s) => s.is_write_vectored(),
        }
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections until shutdown, completing TLS handshakes (when `tls` is set) in
/// separate tasks, and hands the ready connections to `ready`. Handshake and accept errors are
/// logged and never end the loop.
pub(super) async fn accept_loop(
    listener: Arc<Listener>,
    tls: Option<SslAcceptor>,
    ready: mpsc::Sender<Conn>,
    shutdown: Shutdown,
) {
    loop {
        let transport = tokio::select! {
            () = shutdown.wait() => return,
            accepted = listener.accept() => accepted,
        };
        let transport = match transport {
            Ok(transport) => transport,
            Err(error) => {
                // E.g. out of file descriptors: back off instead of spinning.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tracing::debug!(network = listener.network(), "connection accepted");
        let ready = ready.clone();
        match &tls {
            None => {
                if ready.send(Conn::Plain(transport)).await.is_err() {
                    return;
                }
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    match tls_handshake(&acceptor, transport).await {
                        Ok(stream) => drop(ready.send(Conn::Tls(Box::new(stream))).await),
                        Err(reason) => tracing::warn!(
                            reason = %reason,
                            "TLS handshake with a client failed; connection dropped"
                        ),
                    }
                });
            }
        }
    }
}

async fn tls_handshake(
    acceptor: &SslAcceptor,
    transport: Transport,
) -> Result<SslStream<Transport>, String> {
    let ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
    let mut stream = SslStream::new(ssl, transport).map_err(|e| e.to_string())?;
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, Pin::new(&mut stream).accept()).await {
        Err(_) => Err(format!(
            "no handshake within {} s",
            TLS_HANDSHAKE_TIMEOUT.as_secs()
        )),
        Ok(Err(e)) => {
            let verify = stream.ssl().verify_result();
            Err(format!("{e}; certificate check: {}", verify.error_string()))
        }
        Ok(Ok(())) => Ok(stream),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unix_socket_lives_in_a_private_directory_removed_on_drop() {
        let parent = tempfile::tempdir().expect("tempdir");
        let bound = Bound::bind_unix(parent.path()).expect("bind");
        let Bound::Unix { socket, .. } = &bound else {
            panic!("expected unix");
        };
        let path = socket.path().to_owned();
        let dir = path.parent().expect("dir").to_owned();
        assert!(dir.starts_with(parent.path()));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&dir).expect("dir").permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        assert_eq!(bound.address().expect("address"), path.to_str().unwrap());
        assert_eq!(bound.network(), "unix");
        let listener = bound.activate().expect("activate");
        UnixStream::connect(&path).await.expect("connect");
        assert!(matches!(listener.accept().await, Ok(Transport::Unix(_))));
        drop(listener);
        assert!(!path.exists() && !dir.exists());
    }

    #[tokio::test]
    async fn falls_back_to_tcp_when_the_socket_path_is_too_long() {
        let parent = tempfile::tempdir().expect("tempdir");
        let deep = parent.path().join("d".repeat(120));
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let first = taken.local_addr().expect("addr").port();
        let config = ListenConfig {
            socket_dir: deep,
            ports: first..=first.saturating_add(50),
        };
        // The first port is busy; the search moves on to a free one.
        let bound = Bound::bind(&config).expect("bind");
        assert_eq!(bound.network(), "tcp");
        let address = bound.address().expect("address");
        assert!(address.starts_with("127.0.0.1:"), "{address}");
        assert_ne!(address, format!("127.0.0.1:{first}"));
        let listener = bound.activate().expect("activate");
        TcpStream::connect(&address).await.expect("connect");
        assert!(matches!(listener.accept().await, Ok(Transport::Tcp(_))));
    }

    #[test]
    fn tcp_reports_an_exhausted_range() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let config = ListenConfig {
            socket_dir: PathBuf::from("/nonexistent/dir"),
            ports: port..=port,
        };
        let err = bind_tcp(&config).expect_err("taken");
        assert!(
            err.to_string().contains(&format!("{port}..={port}")),
            "{err}"
        );
    }
}
