//! The emulated host's libvirt endpoint: accepts `qemu+tcp` connections (libvirt's TCP
//! transport, auth `none`), answers the remote program's calls from [`Host`], runs data
//! streams (volume upload and download, consoles) and answers keepalive PINGs.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::host::{uuid_string, Host, Uuid};
use super::wire::{
    code, from, packet, proc_ as p, read_packet, Head, RpcError, CALL, CONTINUE, ERROR,
    KEEPALIVE_PROGRAM, MESSAGE, OK, PING, PONG, REMOTE_PROGRAM, REPLY, STREAM,
};
use super::xdr::{In, Malformed, Out};

/// Stream payloads we send per packet (libvirt's own daemon sends at most 256 KiB).
const CHUNK: usize = 256 * 1024;

pub type SharedHost = Arc<Mutex<Host>>;

/// Serves connections on `listener` until the task is dropped; with `state_dir`, every
/// change is written there before its answer goes out.
pub async fn serve(
    listener: TcpListener,
    host: SharedHost,
    access_log: bool,
    state_dir: Option<PathBuf>,
) {
    loop {
        let Ok((sock, _)) = listener.accept().await else {
            continue;
        };
        let _ = sock.set_nodelay(true);
        tokio::spawn(connection(
            sock,
            host.clone(),
            access_log,
            state_dir.clone(),
        ));
    }
}

enum Stream {
    Upload {
        pool: String,
        vol: String,
        offset: u64,
        length: u64,
        data: Vec<u8>,
    },
    /// Everything was sent; waiting for the client's confirmation.
    Download,
    Console {
        domain: String,
    },
}

struct Conn {
    host: SharedHost,
    out: mpsc::UnboundedSender<Vec<u8>>,
    streams: HashMap<u32, Stream>,
    opened: bool,
    access_log: bool,
    state_dir: Option<PathBuf>,
}

async fn connection(
    sock: TcpStream,
    host: SharedHost,
    access_log: bool,
    state_dir: Option<PathBuf>,
) {
    let (mut rd, mut wr) = sock.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let mut conn = Conn {
        host,
        out: tx,
        streams: HashMap::new(),
        opened: false,
        access_log,
        state_dir,
    };
    while let Ok(Some((head, body))) = read_packet(&mut rd).await {
        if head.prog == KEEPALIVE_PROGRAM {
            if head.proc_ == PING {
                conn.send(
                    Head {
                        proc_: PONG,
                        kind: MESSAGE,
                        serial: 0,
                        status: OK,
                        ..head
                    },
                    &[],
                );
            }
            continue;
        }
        if head.prog != REMOTE_PROGRAM {
            break;
        }
        match head.kind {
            CALL => conn.call(head, &body),
            STREAM => conn.stream_packet(head, body),
            _ => {}
        }
    }
    // Consoles opened by this connection stop listening when it goes.
    drop(conn);
    writer.abort();
}

fn domain_handle(o: &mut Out, name: &str, uuid: &Uuid, id: Option<i32>) {
    o.str(name).bytes_fixed(uuid).int(id.unwrap_or(-1));
}

fn pool_handle(o: &mut Out, name: &str, uuid: &Uuid) {
    o.str(name).bytes_fixed(uuid);
}

fn vol_handle(o: &mut Out, pool: &str, name: &str, key: &str) {
    o.str(pool).str(name).str(key);
}

/// A domain handle in arguments: (name, uuid, id).
fn read_domain(i: &mut In<'_>) -> Result<(String, Uuid), Malformed> {
    let name = i.str()?;
    let uuid: Uuid = i.bytes_fixed(16)?.try_into().expect("16 bytes");
    i.int()?;
    Ok((name, uuid))
}

fn read_pool(i: &mut In<'_>) -> Result<(String, Uuid), Malformed> {
    let name = i.str()?;
    let uuid: Uuid = i.bytes_fixed(16)?.try_into().expect("16 bytes");
    Ok((name, uuid))
}

fn read_vol(i: &mut In<'_>) -> Result<(String, String), Malformed> {
    let pool = i.str()?;
    let name = i.str()?;
    i.str()?;
    Ok((pool, name))
}

/// What a call produced.
enum Answer {
    Ok(Vec<u8>),
    Err(RpcError),
}

impl From<Result<Out, RpcError>> for Answer {
    fn from(r: Result<Out, RpcError>) -> Answer {
        match r {
            Ok(o) => Answer::Ok(o.0),
            Err(e) => Answer::Err(e),
        }
    }
}

impl Conn {
    fn send(&self, h: Head, body: &[u8]) {
        let _ = self.out.send(packet(h, body));
    }

    /// Writes what changed to the state directory (when there is one).
    fn persist(&self) -> Result<(), RpcError> {
        let Some(dir) = &self.state_dir else {
            return Ok(());
        };
        self.host
            .lock()
            .expect("host lock")
            .persist(dir)
            .map_err(|e| {
                RpcError::new(
                    code::INTERNAL_ERROR,
                    from::QEMU,
                    format!("internal error: saving the host: {e}"),
                )
            })
    }

    fn stream_head(call: Head, status: i32) -> Head {
        Head {
            kind: STREAM,
            status,
            ..call
        }
    }

    fn call(&mut self, head: Head, body: &[u8]) {
        let mut i = In::new(body);
        let mut answer = match self.answer(head, &mut i) {
            Ok(a) => a,
            Err(Malformed(why)) => Answer::Err(RpcError::new(
                code::RPC,
                from::RPC,
                format!("Unable to decode message payload: {why}"),
            )),
        };
        if let Err(e) = self.persist() {
            answer = Answer::Err(e);
        }
        if self.access_log {
            let status = match &answer {
                Answer::Ok(_) => "ok".to_string(),
                Answer::Err(e) => format!("error {}: {}", e.code, e.message),
            };
            eprintln!(
                "libvirt: proc {} serial {} -> {status}",
                head.proc_, head.serial
            );
        }
        let reply = Head {
            kind: REPLY,
            ..head
        };
        match answer {
            Answer::Ok(b) => {
                self.send(
                    Head {
                        status: OK,
                        ..reply
                    },
                    &b,
                );
                self.after_reply(head);
            }
            Answer::Err(e) => {
                self.streams.remove(&head.serial);
                self.send(
                    Head {
                        status: ERROR,
                        ..reply
                    },
                    &e.encode(),
                );
            }
        }
    }

    /// Stream data that follows a reply: a download sends the volume, a console starts
    /// forwarding the guest's output.
    fn after_reply(&mut self, head: Head) {
        match head.proc_ {
            p::STORAGE_VOL_DOWNLOAD => {
                if let Some(Stream::Upload { data, .. }) = self.streams.remove(&head.serial) {
                    for chunk in data.chunks(CHUNK) {
                        self.send(Self::stream_head(head, CONTINUE), chunk);
                    }
                    // End of data: an empty CONTINUE, as libvirtd sends it (its
                    // virNetServerProgramSendStreamData); OK only confirms the
                    // client's finish.
                    self.send(Self::stream_head(head, CONTINUE), &[]);
                    self.streams.insert(head.serial, Stream::Download);
                }
            }
            p::DOMAIN_OPEN_CONSOLE => {
                if let Some(Stream::Console { domain }) = self.streams.get(&head.serial) {
                    let opened = self.host.lock().expect("host lock").open_console(domain);
                    if let Ok(mut rx) = opened {
                        let out = self.out.clone();
                        tokio::spawn(async move {
                            while let Some(bytes) = rx.recv().await {
                                if out
                                    .send(packet(Self::stream_head(head, CONTINUE), &bytes))
                                    .is_err()
                                {
                                    return;
                                }
                            }
                            // The guest went away: end of data.
                            let _ = out.send(packet(Self::stream_head(head, CONTINUE), &[]));
                        });
                    }
                }
            }
            _ => {}
        }
    }

    fn stream_packet(&mut self, head: Head, body: Vec<u8>) {
        match head.status {
            CONTINUE => match self.streams.get_mut(&head.serial) {
                Some(Stream::Upload { data, .. }) => data.extend_from_slice(&body),
                Some(Stream::Console { domain }) => {
                    let d = domain.clone();
                    self.host
                        .lock()
                        .expect("host lock")
                        .console_input(&d, &body);
                }
                _ => {}
            },
            OK => {
                let result = match self.streams.remove(&head.serial) {
                    Some(Stream::Upload {
                        pool,
                        vol,
                        offset,
                        length,
                        data,
                    }) => {
                        let mut host = self.host.lock().expect("host lock");
                        host.volume_mut(&pool, &vol)
                            .and_then(|v| {
                                if length != 0 && data.len() as u64 > length {
                                    return Err(RpcError::new(
                                        code::INTERNAL_ERROR,
                                        from::STORAGE,
                                        "stream sent more than the requested length",
                                    ));
                                }
                                let start = offset as usize;
                                let end = start + data.len();
                                if v.data.len() < end {
                                    v.data.resize(end, 0);
                                }
                                v.data[start..end].copy_from_slice(&data);
                                v.capacity = v.capacity.max(v.data.len() as u64);
                                Ok(())
                            })
                            .map(|()| host.volume_written(&pool, &vol))
                    }
                    Some(_) => Ok(()),
                    None => return,
                };
                let result = result.and_then(|()| self.persist());
                match result {
                    Ok(()) => self.send(Self::stream_head(head, OK), &[]),
                    Err(e) => self.send(Self::stream_head(head, ERROR), &e.encode()),
                }
            }
            _ => {
                // The client aborted.
                if self.streams.remove(&head.serial).is_some() {
                    let e = RpcError::new(code::RPC, from::RPC, "stream aborted at client request");
                    self.send(Self::stream_head(head, ERROR), &e.encode());
                }
            }
        }
    }

    fn answer(&mut self, head: Head, i: &mut In<'_>) -> Result<Answer, Malformed> {
        // Before CONNECT_OPEN only the handshake calls are allowed, as in libvirtd.
        if !self.opened
            && !matches!(
                head.proc_,
                p::AUTH_LIST | p::CONNECT_SUPPORTS_FEATURE | p::CONNECT_OPEN
            )
        {
            return Ok(Answer::Err(RpcError::new(
                code::RPC,
                from::RPC,
                "connection not open",
            )));
        }
        let host_arc = self.host.clone();
        let mut host = host_arc.lock().expect("host lock");
        host.settle();
        let mut o = Out::default();
        let r: Result<Out, RpcError> = match head.proc_ {
            p::AUTH_LIST => {
                i.end()?;
                o.word(1).int(0); // REMOTE_AUTH_NONE
                Ok(o)
            }
            p::CONNECT_SUPPORTS_FEATURE => {
                let feature = i.int()?;
                i.end()?;
                // VIR_DRV_FEATURE_PROGRAM_KEEPALIVE (10): we answer PINGs.
                o.int(i32::from(feature == 10));
                Ok(o)
            }
            p::CONNECT_OPEN => {
                let name = i.maybe_str()?;
                i.word()?;
                i.end()?;
                match name.as_deref() {
                    None | Some("") | Some("qemu:///system") => {
                        self.opened = true;
                        Ok(o)
                    }
                    Some(n) => Err(RpcError::new(
                        code::NO_CONNECT,
                        from::REMOTE,
                        format!("no connection driver available for {n}"),
                    )),
                }
            }
            p::CONNECT_CLOSE => Ok(o),
            p::CONNECT_GET_URI => {
                o.str("qemu:///system");
                Ok(o)
            }
            p::CONNECT_GET_HOSTNAME => {
                o.str("lpar1.mock-cloud.test");
                Ok(o)
            }
            p::CONNECT_GET_VERSION | p::CONNECT_GET_LIB_VERSION => {
                // QEMU 9.1.0 / libvirt 10.9.0 (major * 1,000,000 + minor * 1,000 + micro).
                o.hyper(if head.proc_ == p::CONNECT_GET_VERSION {
                    9_001_000
                } else {
                    10_009_000
                });
                Ok(o)
            }
            p::NODE_GET_INFO => {
                let mut model = [0u8; 32];
                model[..5].copy_from_slice(b"s390x");
                // `char model[32]`: 32 XDR chars, one word each.
                for b in model {
                    o.int(i32::from(b));
                }
                o.hyper(64 << 20)
                    .int(8)
                    .int(5200)
                    .int(1)
                    .int(1)
                    .int(8)
                    .int(1);
                Ok(o)
            }
            p::CONNECT_GET_CAPABILITIES => {
                o.str(&Host::capabilities());
                Ok(o)
            }
            p::CONNECT_GET_DOMAIN_CAPABILITIES => {
                let _emulator = i.maybe_str()?;
                let arch = i.maybe_str()?;
                let _machine = i.maybe_str()?;
                let virt = i.maybe_str()?;
                i.word()?;
                Host::domain_capabilities(arch.as_deref(), virt.as_deref()).map(|x| {
                    o.str(&x);
                    o
                })
            }
            p::NODE_GET_SECURITY_MODEL => {
                // No security driver: empty model and DOI.
                o.word(0).word(0);
                Ok(o)
            }
            p::CONNECT_LIST_ALL_DOMAINS => {
                i.int()?;
                let flags = i.word()?;
                // VIR_CONNECT_LIST_DOMAINS_ACTIVE = 1, _INACTIVE = 2.
                let want = |running: bool| match flags & 3 {
                    1 => running,
                    2 => !running,
                    _ => true,
                };
                let ds: Vec<_> = host
                    .domains
                    .values()
                    .filter(|d| want(d.id.is_some()))
                    .collect();
                o.word(ds.len() as u32);
                for d in &ds {
                    domain_handle(&mut o, &d.name, &d.uuid, d.id);
                }
                o.word(ds.len() as u32);
                Ok(o)
            }
            p::DOMAIN_DEFINE_XML | p::DOMAIN_DEFINE_XML_FLAGS => {
                let xml = i.str()?;
                if head.proc_ == p::DOMAIN_DEFINE_XML_FLAGS {
                    i.word()?;
                }
                host.define(&xml).map(|d| {
                    domain_handle(&mut o, &d.name, &d.uuid, d.id);
                    o
                })
            }
            p::DOMAIN_LOOKUP_BY_NAME => {
                let name = i.str()?;
                host.domain(&name).map(|d| {
                    domain_handle(&mut o, &d.name, &d.uuid, d.id);
                    o
                })
            }
            p::DOMAIN_LOOKUP_BY_UUID => {
                let uuid: Uuid = i.bytes_fixed(16)?.try_into().expect("16 bytes");
                host.domain_by_uuid(&uuid).map(|d| {
                    domain_handle(&mut o, &d.name, &d.uuid, d.id);
                    o
                })
            }
            p::DOMAIN_LOOKUP_BY_ID => {
                let id = i.int()?;
                host.domain_by_id(id).map(|d| {
                    domain_handle(&mut o, &d.name, &d.uuid, d.id);
                    o
                })
            }
            _ => return Ok(self.answer_on_domain(head, i, &mut host)?.into()),
        };
        Ok(r.into())
    }

    fn answer_on_domain(
        &mut self,
        head: Head,
        i: &mut In<'_>,
        host: &mut Host,
    ) -> Result<Result<Out, RpcError>, Malformed> {
        let mut o = Out::default();
        let proc_ = head.proc_;
        let takes_domain = matches!(
            proc_,
            p::DOMAIN_CREATE
                | p::DOMAIN_CREATE_WITH_FLAGS
                | p::DOMAIN_DESTROY
                | p::DOMAIN_DESTROY_FLAGS
                | p::DOMAIN_SHUTDOWN
                | p::DOMAIN_SHUTDOWN_FLAGS
                | p::DOMAIN_UNDEFINE
                | p::DOMAIN_UNDEFINE_FLAGS
                | p::DOMAIN_GET_INFO
                | p::DOMAIN_GET_STATE
                | p::DOMAIN_GET_XML_DESC
                | p::DOMAIN_GET_OS_TYPE
                | p::DOMAIN_IS_ACTIVE
                | p::DOMAIN_IS_PERSISTENT
                | p::DOMAIN_GET_AUTOSTART
                | p::DOMAIN_HAS_MANAGED_SAVE_IMAGE
                | p::DOMAIN_INTERFACE_ADDRESSES
                | p::DOMAIN_OPEN_CONSOLE
        );
        if !takes_domain {
            return self.answer_on_storage(head, i, host);
        }
        let (name, uuid) = read_domain(i)?;
        let name = match host.resolve(&uuid, &name) {
            Ok(n) => n,
            Err(e) => return Ok(Err(e)),
        };
        let r = match proc_ {
            p::DOMAIN_CREATE | p::DOMAIN_CREATE_WITH_FLAGS => {
                if proc_ == p::DOMAIN_CREATE_WITH_FLAGS {
                    i.word()?;
                }
                host.start(&name).map(|id| {
                    if proc_ == p::DOMAIN_CREATE_WITH_FLAGS {
                        domain_handle(&mut o, &name, &uuid, Some(id));
                    }
                    o
                })
            }
            p::DOMAIN_DESTROY | p::DOMAIN_DESTROY_FLAGS => host.destroy(&name).map(|_| o),
            p::DOMAIN_SHUTDOWN | p::DOMAIN_SHUTDOWN_FLAGS => host.shutdown(&name).map(|_| o),
            p::DOMAIN_UNDEFINE | p::DOMAIN_UNDEFINE_FLAGS => host.undefine(&name).map(|_| o),
            p::DOMAIN_GET_INFO => {
                let d = &host.domains[&name];
                let cpu_ns = d
                    .started
                    .map(|s| s.elapsed().as_nanos() as u64 / 10)
                    .unwrap_or(0);
                o.word(d.state() as u32)
                    .hyper(d.memory_kib)
                    .hyper(d.memory_kib)
                    .word(d.vcpus)
                    .hyper(cpu_ns);
                Ok(o)
            }
            p::DOMAIN_GET_STATE => {
                let d = &host.domains[&name];
                o.int(d.state()).int(d.reason);
                Ok(o)
            }
            p::DOMAIN_GET_XML_DESC => {
                o.str(&host.domains[&name].xml());
                Ok(o)
            }
            p::DOMAIN_GET_OS_TYPE => {
                o.str(&host.domains[&name].os_type);
                Ok(o)
            }
            p::DOMAIN_IS_ACTIVE => {
                o.int(i32::from(host.domains[&name].id.is_some()));
                Ok(o)
            }
            p::DOMAIN_IS_PERSISTENT => {
                o.int(i32::from(host.domains[&name].persistent));
                Ok(o)
            }
            p::DOMAIN_GET_AUTOSTART | p::DOMAIN_HAS_MANAGED_SAVE_IMAGE => {
                o.int(0);
                Ok(o)
            }
            p::DOMAIN_INTERFACE_ADDRESSES => {
                let source = i.word()?;
                let d = &host.domains[&name];
                if d.id.is_none() {
                    Err(RpcError::new(
                        code::OPERATION_INVALID,
                        from::QEMU,
                        "Requested operation is not valid: domain is not running",
                    ))
                } else if source != 0 {
                    Err(RpcError::new(code::NO_SUPPORT, from::QEMU, "this function is not supported by the connection driver: the emulated guests have no guest agent"))
                } else {
                    // VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE: the network's DHCP leases.
                    let mut ifaces = Vec::new();
                    for (n, iface) in d.interfaces.iter().enumerate() {
                        let Some(net) = iface.network.as_ref().and_then(|n| host.networks.get(n))
                        else {
                            continue;
                        };
                        let ips: Vec<&str> = net
                            .leases
                            .iter()
                            .filter(|l| l.mac == iface.mac)
                            .map(|l| l.ip.as_str())
                            .collect();
                        if !ips.is_empty() {
                            ifaces.push((format!("vnet{n}"), iface.mac.clone(), ips));
                        }
                    }
                    o.word(ifaces.len() as u32);
                    for (ifname, mac, ips) in ifaces {
                        o.str(&ifname).maybe_str(Some(&mac)).word(ips.len() as u32);
                        for ip in ips {
                            o.int(0).str(ip).word(24);
                        }
                    }
                    Ok(o)
                }
            }
            p::DOMAIN_OPEN_CONSOLE => {
                let _dev = i.maybe_str()?;
                i.word()?;
                if host.domains[&name].id.is_none() {
                    Err(RpcError::new(
                        code::OPERATION_INVALID,
                        from::QEMU,
                        "Requested operation is not valid: domain is not running",
                    ))
                } else {
                    self.streams.insert(
                        head.serial,
                        Stream::Console {
                            domain: name.clone(),
                        },
                    );
                    Ok(o)
                }
            }
            _ => unreachable!("takes_domain covers these"),
        };
        Ok(r)
    }

    fn answer_on_storage(
        &mut self,
        head: Head,
        i: &mut In<'_>,
        host: &mut Host,
    ) -> Result<Result<Out, RpcError>, Malformed> {
        let mut o = Out::default();
        let r = match head.proc_ {
            p::CONNECT_LIST_ALL_STORAGE_POOLS => {
                i.int()?;
                i.word()?;
                o.word(host.pools.len() as u32);
                for pl in host.pools.values() {
                    pool_handle(&mut o, &pl.name, &pl.uuid);
                }
                o.word(host.pools.len() as u32);
                Ok(o)
            }
            p::STORAGE_POOL_LOOKUP_BY_NAME => {
                let name = i.str()?;
                host.pool(&name).map(|pl| {
                    pool_handle(&mut o, &pl.name, &pl.uuid);
                    o
                })
            }
            p::STORAGE_POOL_LOOKUP_BY_UUID => {
                let uuid: Uuid = i.bytes_fixed(16)?.try_into().expect("16 bytes");
                host.pool_by_uuid(&uuid).map(|pl| {
                    pool_handle(&mut o, &pl.name, &pl.uuid);
                    o
                })
            }
            p::STORAGE_POOL_REFRESH
            | p::STORAGE_POOL_GET_INFO
            | p::STORAGE_POOL_GET_XML_DESC
            | p::STORAGE_POOL_IS_ACTIVE
            | p::STORAGE_POOL_LIST_ALL_VOLUMES
            | p::STORAGE_VOL_LOOKUP_BY_NAME
            | p::STORAGE_VOL_CREATE_XML
            | p::STORAGE_VOL_CREATE_XML_FROM => {
                let (pool, _) = read_pool(i)?;
                let pl = match host.pool(&pool) {
                    Ok(pl) => pl,
                    Err(e) => return Ok(Err(e)),
                };
                match head.proc_ {
                    p::STORAGE_POOL_REFRESH => Ok(o),
                    p::STORAGE_POOL_IS_ACTIVE => {
                        o.int(1);
                        Ok(o)
                    }
                    p::STORAGE_POOL_GET_INFO => {
                        let used: u64 = pl.volumes.values().map(|v| v.data.len() as u64).sum();
                        let capacity = 500u64 << 30;
                        // VIR_STORAGE_POOL_RUNNING
                        o.word(2).hyper(capacity).hyper(used).hyper(capacity - used);
                        Ok(o)
                    }
                    p::STORAGE_POOL_GET_XML_DESC => {
                        o.str(&format!(
                            "<pool type='dir'>\n  <name>{}</name>\n  <uuid>{}</uuid>\n  <target>\n    <path>{}</path>\n  </target>\n</pool>\n",
                            pl.name,
                            uuid_string(&pl.uuid),
                            pl.path
                        ));
                        Ok(o)
                    }
                    p::STORAGE_POOL_LIST_ALL_VOLUMES => {
                        o.word(pl.volumes.len() as u32);
                        for v in pl.volumes.values() {
                            vol_handle(&mut o, &pl.name, &v.name, &v.key);
                        }
                        o.word(pl.volumes.len() as u32);
                        Ok(o)
                    }
                    p::STORAGE_VOL_LOOKUP_BY_NAME => {
                        let name = i.str()?;
                        host.volume(&pool, &name).map(|v| {
                            vol_handle(&mut o, &pool, &v.name, &v.key);
                            o
                        })
                    }
                    _ => {
                        let xml = i.str()?;
                        let clone_of = if head.proc_ == p::STORAGE_VOL_CREATE_XML_FROM {
                            Some(read_vol(i)?.1)
                        } else {
                            None
                        };
                        i.word()?;
                        host.create_volume(&pool, &xml, clone_of.as_deref()).map(|v| {
                            vol_handle(&mut o, &pool, &v.name, &v.key);
                            o
                        })
                    }
                }
            }
            p::STORAGE_VOL_LOOKUP_BY_PATH => {
                let path = i.str()?;
                match host.volume_by_path(&path) {
                    Some((pl, v)) => {
                        vol_handle(&mut o, &pl.name, &v.name, &v.key);
                        Ok(o)
                    }
                    None => Err(RpcError::new(
                        code::NO_STORAGE_VOL,
                        from::STORAGE,
                        format!("Storage volume not found: no storage vol with matching path '{path}'"),
                    )),
                }
            }
            p::STORAGE_POOL_LOOKUP_BY_VOLUME => {
                let (pool, name) = read_vol(i)?;
                host.volume(&pool, &name).and_then(|_| host.pool(&pool)).map(|pl| {
                    pool_handle(&mut o, &pl.name, &pl.uuid);
                    o
                })
            }
            p::STORAGE_VOL_DELETE
            | p::STORAGE_VOL_GET_INFO
            | p::STORAGE_VOL_GET_XML_DESC
            | p::STORAGE_VOL_GET_PATH
            | p::STORAGE_VOL_UPLOAD
            | p::STORAGE_VOL_DOWNLOAD => {
                let (pool, name) = read_vol(i)?;
                match head.proc_ {
                    p::STORAGE_VOL_DELETE => host.delete_volume(&pool, &name).map(|_| o),
                    p::STORAGE_VOL_GET_INFO => host.volume(&pool, &name).map(|v| {
                        // VIR_STORAGE_VOL_FILE
                        o.int(0).hyper(v.capacity).hyper(v.data.len() as u64);
                        o
                    }),
                    p::STORAGE_VOL_GET_XML_DESC => host.volume(&pool, &name).map(|v| {
                        o.str(&v.xml());
                        o
                    }),
                    p::STORAGE_VOL_GET_PATH => host.volume(&pool, &name).map(|v| {
                        o.str(&v.key);
                        o
                    }),
                    _ => {
                        let offset = i.hyper()?;
                        let length = i.hyper()?;
                        i.word()?;
                        host.volume(&pool, &name).and_then(|v| {
                            let size = v.data.len() as u64;
                            if head.proc_ == p::STORAGE_VOL_DOWNLOAD {
                                if offset > size {
                                    return Err(RpcError::new(code::INVALID_ARG, from::STORAGE, format!("offset {offset} is past the end of volume '{name}'")));
                                }
                                let end = if length == 0 { size } else { (offset + length).min(size) };
                                // Parked as an "upload" record holding the bytes to send
                                // once the reply is out.
                                let data = v.data[offset as usize..end as usize].to_vec();
                                self.streams.insert(head.serial, Stream::Upload { pool: pool.clone(), vol: name.clone(), offset, length, data });
                            } else {
                                self.streams.insert(head.serial, Stream::Upload { pool: pool.clone(), vol: name.clone(), offset, length, data: Vec::new() });
                            }
                            Ok(o)
                        })
                    }
                }
            }
            p::CONNECT_LIST_ALL_NETWORKS => {
                i.int()?;
                i.word()?;
                o.word(host.networks.len() as u32);
                for n in host.networks.values() {
                    o.str(&n.name).bytes_fixed(&n.uuid);
                }
                o.word(host.networks.len() as u32);
                Ok(o)
            }
            p::NETWORK_LOOKUP_BY_NAME => {
                let name = i.str()?;
                host.network(&name).map(|n| {
                    o.str(&n.name).bytes_fixed(&n.uuid);
                    o
                })
            }
            p::NETWORK_IS_ACTIVE | p::NETWORK_GET_XML_DESC | p::NETWORK_GET_DHCP_LEASES => {
                let name = i.str()?;
                i.bytes_fixed(16)?;
                match host.network(&name) {
                    Err(e) => Err(e),
                    Ok(n) => match head.proc_ {
                        p::NETWORK_IS_ACTIVE => {
                            o.int(1);
                            Ok(o)
                        }
                        p::NETWORK_GET_XML_DESC => {
                            o.str(&format!(
                                "<network>\n  <name>{}</name>\n  <uuid>{}</uuid>\n  <forward mode='nat'/>\n  <bridge name='{}'/>\n  \
                                 <ip address='{s}.1' netmask='255.255.255.0'>\n    <dhcp>\n      <range start='{s}.2' end='{s}.254'/>\n    </dhcp>\n  </ip>\n</network>\n",
                                n.name,
                                uuid_string(&n.uuid),
                                n.bridge,
                                s = n.subnet
                            ));
                            Ok(o)
                        }
                        _ => {
                            let mac = i.maybe_str()?;
                            i.int()?;
                            i.word()?;
                            let leases: Vec<_> = n
                                .leases
                                .iter()
                                .filter(|l| mac.as_deref().is_none_or(|m| m.eq_ignore_ascii_case(&l.mac)))
                                .collect();
                            o.word(leases.len() as u32);
                            for l in &leases {
                                o.str(&n.bridge)
                                    .hyper(l.expiry as u64)
                                    .int(0)
                                    .maybe_str(Some(&l.mac))
                                    .maybe_str(None)
                                    .str(&l.ip)
                                    .word(24)
                                    .maybe_str(Some(&l.hostname))
                                    .maybe_str(None);
                            }
                            o.word(leases.len() as u32);
                            Ok(o)
                        }
                    },
                }
            }
            other => Err(RpcError::new(
                code::NO_SUPPORT,
                from::REMOTE,
                format!("this function is not supported by the connection driver: mock-cloud's KVM host does not emulate remote procedure {other}"),
            )),
        };
        Ok(r)
    }
}
