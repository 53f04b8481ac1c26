//! A client of libvirt's remote RPC protocol (the protocol `virsh` speaks to libvirtd),
//! written here from libvirt's protocol definitions so the provider never links libvirt's
//! C library: users who never touch KVM need nothing installed. It knows nothing of
//! Terraform; the KVM resource and data source call it.
//!
//! - [`Client::connect`]`(uri, ConnectOptions)` opens `qemu+ssh://user@host/system`
//!   (the system `ssh`), `qemu+tls://host/system` (client certificates at libvirt's
//!   default PKI paths or `?pkipath=`), `qemu+tcp://host/system`, `qemu:///system` (local
//!   socket, `?socket=` to choose one); see [`uri`] and [`transport`].
//! - Calls ([`calls`]): connect capabilities / domain capabilities; domain define,
//!   lookup by name or uuid, create, destroy, shutdown, undefine, info, XML, state,
//!   interface addresses, open console; storage pool lookup and refresh; volume lookup,
//!   create, clone (create-from), delete, info, upload, download; network lookup and
//!   DHCP leases. `find_*` lookups give `None` for "not found".
//! - Streams ([`stream`]): volume upload/download and the console.
//! - Keepalive: PINGs from libvirtd are answered; when libvirtd supports keepalive we
//!   ping it after 5 s of silence and drop the connection after 5 unanswered intervals.
//!
//! Layers: [`xdr`] (encoding) → [`packet`] (framing, header, errors) → [`protocol`]
//! (procedure numbers and records) → [`client`] (the connection) → [`calls`].

pub mod calls;
pub mod client;
#[cfg(test)]
mod client_tests;
pub mod packet;
pub mod protocol;
pub mod stream;
pub mod transport;
pub mod uri;
pub mod xdr;

pub use client::{Client, ConnectOptions};
pub use packet::RemoteError;
pub use protocol::{
    AddressSource, DhcpLease, Domain, DomainInfo, DomainInterface, DomainState, Network,
    StoragePool, StorageVol, Uuid, VolInfo,
};
pub use stream::Stream;

/// Why a libvirt operation failed. `Display` is fit for a diagnostic.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Uri(#[from] uri::UriError),
    /// The transport could not be opened, or authentication was refused.
    #[error("{0}")]
    Connect(String),
    /// libvirtd answered with an error.
    #[error("libvirt: {0}")]
    Remote(RemoteError),
    /// libvirtd sent something this client cannot read.
    #[error("libvirt protocol error: {0}")]
    Protocol(String),
    /// The connection ended (with the reason) before the answer came.
    #[error("libvirt connection lost: {0}")]
    Closed(String),
    #[error("libvirt I/O: {0}")]
    Io(#[from] std::io::Error),
}

impl From<xdr::XdrError> for Error {
    fn from(e: xdr::XdrError) -> Error {
        Error::Protocol(e.to_string())
    }
}

impl Error {
    /// libvirt reported that the named domain, network, pool or volume does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Remote(e) if e.is_not_found())
    }

    /// libvirt's error code, when libvirt reported the error.
    pub fn code(&self) -> Option<i32> {
        match self {
            Error::Remote(e) => Some(e.code),
            _ => None,
        }
    }
}
