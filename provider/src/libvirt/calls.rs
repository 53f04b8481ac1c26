//! The typed procedures: each encodes its `remote_*_args`, calls, and decodes its
//! `remote_*_ret`. Lookups have `find_*` forms that turn libvirt's "not found" into `None`.

use super::client::Client;
use super::protocol::{
    procedure as p, AddressSource, DhcpLease, Domain, DomainInfo, DomainInterface, DomainState,
    Network, StoragePool, StorageVol, Uuid, VolInfo,
};
use super::stream::Stream;
use super::xdr::{Decoder, Encoder};
use super::Error;

/// `virDomainUndefineFlagsValues` the provider uses.
pub mod undefine_flags {
    pub const MANAGED_SAVE: u32 = 1;
    pub const SNAPSHOTS_METADATA: u32 = 2;
    pub const NVRAM: u32 = 4;
    pub const CHECKPOINTS_METADATA: u32 = 16;
    pub const TPM: u32 = 64;
}

/// `virDomainConsoleFlags`.
pub mod console_flags {
    /// Take the console from another client that holds it.
    pub const FORCE: u32 = 1;
    /// Refuse if another client holds it.
    pub const SAFE: u32 = 2;
}

/// `virDomainXMLFlags` for `domain_get_xml_desc`.
pub mod xml_flags {
    pub const SECURE: u32 = 1;
    pub const INACTIVE: u32 = 2;
}

fn args(f: impl FnOnce(&mut Encoder)) -> Vec<u8> {
    let mut e = Encoder::new();
    f(&mut e);
    e.into_bytes()
}

fn decode<T>(
    ret: &[u8],
    f: impl FnOnce(&mut Decoder<'_>) -> Result<T, super::xdr::XdrError>,
) -> Result<T, Error> {
    let mut d = Decoder::new(ret);
    let v = f(&mut d)?;
    d.finish()?;
    Ok(v)
}

/// Encodes a handle and a trailing `flags` word, the arguments of most calls.
fn with_flags(handle: impl FnOnce(&mut Encoder), flags: u32) -> Vec<u8> {
    args(|e| {
        handle(e);
        e.u32(flags);
    })
}

fn not_found_is_none<T>(r: Result<T, Error>) -> Result<Option<T>, Error> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

impl Client {
    /// Calls and decodes the reply with `f`.
    async fn call_decoding<T>(
        &self,
        procedure: i32,
        args: Vec<u8>,
        f: impl FnOnce(&mut Decoder<'_>) -> Result<T, super::xdr::XdrError>,
    ) -> Result<T, Error> {
        let ret = self.call(procedure, args).await?;
        decode(&ret, f)
    }

    /// Calls a procedure that returns nothing.
    async fn call_unit(&self, procedure: i32, args: Vec<u8>) -> Result<(), Error> {
        self.call(procedure, args).await.map(|_| ())
    }

    /// The host's capabilities XML (`virConnectGetCapabilities`).
    pub async fn capabilities(&self) -> Result<String, Error> {
        self.call_decoding(p::CONNECT_GET_CAPABILITIES, Vec::new(), |d| d.string())
            .await
    }

    /// The domain capabilities XML for an emulator/arch/machine/virt type (each `None`
    /// lets libvirt choose), `virConnectGetDomainCapabilities`.
    pub async fn domain_capabilities(
        &self,
        emulator: Option<&str>,
        arch: Option<&str>,
        machine: Option<&str>,
        virt_type: Option<&str>,
    ) -> Result<String, Error> {
        let a = args(|e| {
            e.opt_string(emulator)
                .opt_string(arch)
                .opt_string(machine)
                .opt_string(virt_type)
                .u32(0);
        });
        self.call_decoding(p::CONNECT_GET_DOMAIN_CAPABILITIES, a, |d| d.string())
            .await
    }

    /// Defines (or redefines, same name and uuid) a persistent domain.
    pub async fn domain_define_xml(&self, xml: &str) -> Result<Domain, Error> {
        self.call_decoding(
            p::DOMAIN_DEFINE_XML,
            args(|e| {
                e.string(xml);
            }),
            Domain::decode,
        )
        .await
    }

    pub async fn domain_lookup_by_name(&self, name: &str) -> Result<Domain, Error> {
        self.call_decoding(
            p::DOMAIN_LOOKUP_BY_NAME,
            args(|e| {
                e.string(name);
            }),
            Domain::decode,
        )
        .await
    }

    pub async fn find_domain_by_name(&self, name: &str) -> Result<Option<Domain>, Error> {
        not_found_is_none(self.domain_lookup_by_name(name).await)
    }

    pub async fn domain_lookup_by_uuid(&self, uuid: &Uuid) -> Result<Domain, Error> {
        self.call_decoding(
            p::DOMAIN_LOOKUP_BY_UUID,
            args(|e| {
                e.fixed_opaque(&uuid.0);
            }),
            Domain::decode,
        )
        .await
    }

    pub async fn find_domain_by_uuid(&self, uuid: &Uuid) -> Result<Option<Domain>, Error> {
        not_found_is_none(self.domain_lookup_by_uuid(uuid).await)
    }

    /// Starts a defined domain; the returned handle carries its running id.
    pub async fn domain_create(&self, dom: &Domain) -> Result<Domain, Error> {
        self.call_decoding(
            p::DOMAIN_CREATE_WITH_FLAGS,
            with_flags(|e| dom.encode(e), 0),
            Domain::decode,
        )
        .await
    }

    /// Powers the domain off at once.
    pub async fn domain_destroy(&self, dom: &Domain) -> Result<(), Error> {
        self.call_unit(p::DOMAIN_DESTROY, args(|e| dom.encode(e)))
            .await
    }

    /// Asks the guest to shut down (ACPI / the s390 signal-quiesce); returns at once.
    pub async fn domain_shutdown(&self, dom: &Domain) -> Result<(), Error> {
        self.call_unit(p::DOMAIN_SHUTDOWN, args(|e| dom.encode(e)))
            .await
    }

    /// Removes a domain's definition (see [`undefine_flags`]).
    pub async fn domain_undefine(&self, dom: &Domain, flags: u32) -> Result<(), Error> {
        self.call_unit(
            p::DOMAIN_UNDEFINE_FLAGS,
            with_flags(|e| dom.encode(e), flags),
        )
        .await
    }

    pub async fn domain_get_info(&self, dom: &Domain) -> Result<DomainInfo, Error> {
        self.call_decoding(
            p::DOMAIN_GET_INFO,
            args(|e| dom.encode(e)),
            DomainInfo::decode,
        )
        .await
    }

    /// The domain's XML (see [`xml_flags`]).
    pub async fn domain_get_xml_desc(&self, dom: &Domain, flags: u32) -> Result<String, Error> {
        self.call_decoding(
            p::DOMAIN_GET_XML_DESC,
            with_flags(|e| dom.encode(e), flags),
            |d| d.string(),
        )
        .await
    }

    /// The domain's state and libvirt's reason code for it.
    pub async fn domain_get_state(&self, dom: &Domain) -> Result<(DomainState, i32), Error> {
        self.call_decoding(p::DOMAIN_GET_STATE, with_flags(|e| dom.encode(e), 0), |d| {
            Ok((DomainState::from_code(d.i32()?), d.i32()?))
        })
        .await
    }

    pub async fn domain_interface_addresses(
        &self,
        dom: &Domain,
        source: AddressSource,
    ) -> Result<Vec<DomainInterface>, Error> {
        self.call_decoding(
            p::DOMAIN_INTERFACE_ADDRESSES,
            args(|e| {
                dom.encode(e);
                e.u32(source as u32).u32(0);
            }),
            DomainInterface::decode_list,
        )
        .await
    }

    /// Opens the domain's console (`dev_name` `None`: the first one) as a two-way stream.
    pub async fn domain_open_console(
        &self,
        dom: &Domain,
        dev_name: Option<&str>,
        flags: u32,
    ) -> Result<Stream, Error> {
        self.call_stream(
            p::DOMAIN_OPEN_CONSOLE,
            args(|e| {
                dom.encode(e);
                e.opt_string(dev_name).u32(flags);
            }),
        )
        .await
    }

    pub async fn storage_pool_lookup_by_name(&self, name: &str) -> Result<StoragePool, Error> {
        self.call_decoding(
            p::STORAGE_POOL_LOOKUP_BY_NAME,
            args(|e| {
                e.string(name);
            }),
            StoragePool::decode,
        )
        .await
    }

    pub async fn find_storage_pool(&self, name: &str) -> Result<Option<StoragePool>, Error> {
        not_found_is_none(self.storage_pool_lookup_by_name(name).await)
    }

    /// Rescans the pool's volumes.
    pub async fn storage_pool_refresh(&self, pool: &StoragePool) -> Result<(), Error> {
        self.call_unit(p::STORAGE_POOL_REFRESH, with_flags(|e| pool.encode(e), 0))
            .await
    }

    pub async fn storage_vol_lookup_by_name(
        &self,
        pool: &StoragePool,
        name: &str,
    ) -> Result<StorageVol, Error> {
        self.call_decoding(
            p::STORAGE_VOL_LOOKUP_BY_NAME,
            args(|e| {
                pool.encode(e);
                e.string(name);
            }),
            StorageVol::decode,
        )
        .await
    }

    pub async fn find_storage_vol(
        &self,
        pool: &StoragePool,
        name: &str,
    ) -> Result<Option<StorageVol>, Error> {
        not_found_is_none(self.storage_vol_lookup_by_name(pool, name).await)
    }

    /// Creates a volume from its XML.
    pub async fn storage_vol_create_xml(
        &self,
        pool: &StoragePool,
        xml: &str,
    ) -> Result<StorageVol, Error> {
        self.call_decoding(
            p::STORAGE_VOL_CREATE_XML,
            args(|e| {
                pool.encode(e);
                e.string(xml).u32(0);
            }),
            StorageVol::decode,
        )
        .await
    }

    /// Creates a volume as a copy of `clone_of` (`virStorageVolCreateXMLFrom`).
    pub async fn storage_vol_create_xml_from(
        &self,
        pool: &StoragePool,
        xml: &str,
        clone_of: &StorageVol,
    ) -> Result<StorageVol, Error> {
        self.call_decoding(
            p::STORAGE_VOL_CREATE_XML_FROM,
            args(|e| {
                pool.encode(e);
                e.string(xml);
                clone_of.encode(e);
                e.u32(0);
            }),
            StorageVol::decode,
        )
        .await
    }

    pub async fn storage_vol_delete(&self, vol: &StorageVol) -> Result<(), Error> {
        self.call_unit(p::STORAGE_VOL_DELETE, with_flags(|e| vol.encode(e), 0))
            .await
    }

    pub async fn storage_vol_get_info(&self, vol: &StorageVol) -> Result<VolInfo, Error> {
        self.call_decoding(
            p::STORAGE_VOL_GET_INFO,
            args(|e| vol.encode(e)),
            VolInfo::decode,
        )
        .await
    }

    /// `remote_storage_vol_upload_args` and `…_download_args` are the same record.
    async fn vol_stream(
        &self,
        procedure: i32,
        vol: &StorageVol,
        offset: u64,
        length: u64,
    ) -> Result<Stream, Error> {
        let a = args(|e| {
            vol.encode(e);
            e.u64(offset).u64(length).u32(0);
        });
        self.call_stream(procedure, a).await
    }

    /// Opens an upload into `vol` at `offset` (`length` 0: to the end); send the bytes
    /// with [`Stream::upload_from`] or [`Stream::send`] + [`Stream::finish`].
    pub async fn storage_vol_upload(
        &self,
        vol: &StorageVol,
        offset: u64,
        length: u64,
    ) -> Result<Stream, Error> {
        self.vol_stream(p::STORAGE_VOL_UPLOAD, vol, offset, length)
            .await
    }

    /// Opens a download of `vol` from `offset` (`length` 0: to the end); read it with
    /// [`Stream::download_to`] or [`Stream::recv`] + [`Stream::finish`].
    pub async fn storage_vol_download(
        &self,
        vol: &StorageVol,
        offset: u64,
        length: u64,
    ) -> Result<Stream, Error> {
        self.vol_stream(p::STORAGE_VOL_DOWNLOAD, vol, offset, length)
            .await
    }

    pub async fn network_lookup_by_name(&self, name: &str) -> Result<Network, Error> {
        self.call_decoding(
            p::NETWORK_LOOKUP_BY_NAME,
            args(|e| {
                e.string(name);
            }),
            Network::decode,
        )
        .await
    }

    pub async fn find_network(&self, name: &str) -> Result<Option<Network>, Error> {
        not_found_is_none(self.network_lookup_by_name(name).await)
    }

    /// The network's DHCP leases, all or those of one MAC address.
    pub async fn network_get_dhcp_leases(
        &self,
        net: &Network,
        mac: Option<&str>,
    ) -> Result<Vec<DhcpLease>, Error> {
        self.call_decoding(
            p::NETWORK_GET_DHCP_LEASES,
            args(|e| {
                net.encode(e);
                e.opt_string(mac).i32(1).u32(0);
            }),
            DhcpLease::decode_list,
        )
        .await
    }
}
