//! The connection: one task reads packets and routes them (replies to the waiting call by
//! serial, stream packets to their stream, keepalive PINGs answered with PONG), one task
//! writes, and any number of calls run at once over the one connection, as libvirt's own
//! client does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::packet::{
    encode_frame, read_frame, Header, MessageType, Packet, RemoteError, Status,
    KEEPALIVE_PROC_PING, KEEPALIVE_PROC_PONG, KEEPALIVE_PROGRAM, REMOTE_PROGRAM,
};
use super::protocol::{auth_type, decode_auth_list, procedure, FEATURE_PROGRAM_KEEPALIVE};
use super::transport::{self, Io};
use super::uri::ConnectUri;
use super::xdr::{Decoder, Encoder};
use super::Error;

/// How to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Open read-only (`VIR_CONNECT_RO`).
    pub read_only: bool,
    /// Send a keepalive PING after this long without hearing from libvirtd (when it
    /// supports keepalive); `None` sends none.
    pub keepalive_interval: Option<Duration>,
    /// Close the connection after this many intervals without an answer.
    pub keepalive_count: u32,
}

impl Default for ConnectOptions {
    /// libvirt's client defaults: interval 5 s, count 5.
    fn default() -> Self {
        ConnectOptions {
            read_only: false,
            keepalive_interval: Some(Duration::from_secs(5)),
            keepalive_count: 5,
        }
    }
}

/// What a stream receives.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    Data(Vec<u8>),
    /// End of the peer's data: a `CONTINUE` packet with no payload.
    Eof,
    /// The peer confirmed our finish (status `OK`, no payload).
    Finished,
    Failed(Error),
}

/// How many stream packets may wait for their reader before the connection's reader waits
/// too (libvirt's flow control: a slow stream slows the connection, it never buffers
/// without bound).
const STREAM_QUEUE: usize = 32;
const OUTGOING_QUEUE: usize = 64;

/// Where the reply to one call goes.
type ReplyWaiter = oneshot::Sender<Result<Vec<u8>, Error>>;

struct Shared {
    outgoing: mpsc::Sender<Vec<u8>>,
    pending: Mutex<HashMap<u32, ReplyWaiter>>,
    streams: Mutex<HashMap<u32, mpsc::Sender<StreamEvent>>>,
    next_serial: AtomicU32,
    /// Why the connection ended, once it has.
    closed: Mutex<Option<String>>,
    last_heard: Mutex<Instant>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Shared {
    fn close(&self, why: &str) {
        {
            let mut closed = self.closed.lock().expect("closed lock");
            if closed.is_some() {
                return;
            }
            *closed = Some(why.to_string());
        }
        let pending: Vec<_> = self.pending.lock().expect("pending lock").drain().collect();
        for (_, tx) in pending {
            let _ = tx.send(Err(Error::Closed(why.to_string())));
        }
        let streams: Vec<_> = self.streams.lock().expect("streams lock").drain().collect();
        for (_, tx) in streams {
            let _ = tx.try_send(StreamEvent::Failed(Error::Closed(why.to_string())));
        }
    }

    fn closed_reason(&self) -> Option<String> {
        self.closed.lock().expect("closed lock").clone()
    }
}

/// A connection to libvirtd. Cheap to clone; clones share the connection. The connection
/// closes when [`Client::close`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

/// Ends the connection's tasks when the last [`Client`] goes.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.close("the client was dropped");
        for t in self.0.tasks.lock().expect("tasks lock").drain(..) {
            t.abort();
        }
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `uri`, authenticates (libvirt's `none`, or polkit on a local socket)
    /// and opens the connection.
    pub async fn connect(uri: &str, options: ConnectOptions) -> Result<Client, Error> {
        let parsed = ConnectUri::parse(uri)?;
        let io = transport::connect(&parsed).await?;
        let client = Client::over(io);
        client.handshake(&parsed.remote_name(), &options).await?;
        Ok(client)
    }

    /// Authenticates, learns whether libvirtd does keepalive, and opens `name` (the
    /// driver URI libvirtd opens, e.g. `qemu:///system`).
    pub(crate) async fn handshake(
        &self,
        name: &str,
        options: &ConnectOptions,
    ) -> Result<(), Error> {
        self.authenticate(name).await?;
        let keepalive = self.supports_feature(FEATURE_PROGRAM_KEEPALIVE).await?;
        let mut args = Encoder::new();
        args.opt_string(Some(name))
            .u32(u32::from(options.read_only));
        self.call(procedure::CONNECT_OPEN, args.into_bytes())
            .await?;
        if let (true, Some(interval)) = (keepalive, options.keepalive_interval) {
            self.start_keepalive(interval, options.keepalive_count.max(1));
        }
        Ok(())
    }

    /// Runs the protocol over an already open stream (no authentication or open: see
    /// [`Client::connect`]).
    pub fn over(io: Box<dyn Io>) -> Client {
        let (mut reader, mut writer) = tokio::io::split(io);
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(OUTGOING_QUEUE);
        let shared = Arc::new(Shared {
            outgoing: tx,
            pending: Mutex::new(HashMap::new()),
            streams: Mutex::new(HashMap::new()),
            next_serial: AtomicU32::new(1),
            closed: Mutex::new(None),
            last_heard: Mutex::new(Instant::now()),
            tasks: Mutex::new(Vec::new()),
        });
        let w_shared = shared.clone();
        let writer_task = tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if let Err(e) = writer.write_all(&frame).await {
                    w_shared.close(&format!("writing to libvirt: {e}"));
                    return;
                }
                if rx.is_empty() {
                    if let Err(e) = writer.flush().await {
                        w_shared.close(&format!("writing to libvirt: {e}"));
                        return;
                    }
                }
            }
            let _ = writer.shutdown().await;
        });
        let r_shared = shared.clone();
        let reader_task = tokio::spawn(async move {
            let why = loop {
                match read_frame(&mut reader).await {
                    Ok(Some(frame)) => match Packet::decode(&frame) {
                        Ok(p) => {
                            *r_shared.last_heard.lock().expect("last_heard lock") = Instant::now();
                            if let Err(why) = dispatch(&r_shared, p).await {
                                break why;
                            }
                        }
                        Err(e) => break format!("libvirt sent a bad packet: {e}"),
                    },
                    Ok(None) => break "libvirt closed the connection".to_string(),
                    Err(e) => break format!("reading from libvirt: {e}"),
                }
            };
            r_shared.close(&why);
        });
        shared
            .tasks
            .lock()
            .expect("tasks lock")
            .extend([writer_task, reader_task]);
        Client {
            _owner: Arc::new(Owner(shared.clone())),
            shared,
        }
    }

    async fn authenticate(&self, uri: &str) -> Result<(), Error> {
        let ret = self.call(procedure::AUTH_LIST, Vec::new()).await?;
        let mut d = Decoder::new(&ret);
        let types = decode_auth_list(&mut d)?;
        d.finish()?;
        if types.is_empty() || types.contains(&auth_type::NONE) {
            return Ok(());
        }
        if types.contains(&auth_type::POLKIT) {
            // libvirtd asks polkit about our UNIX user; nothing to send but the call.
            self.call(procedure::AUTH_POLKIT, Vec::new()).await?;
            return Ok(());
        }
        Err(Error::Connect(format!(
            "libvirt at {uri} requires SASL authentication, which this provider does not speak; \
             use qemu+ssh:// (SSH authenticates you) or qemu+tls:// with a client certificate, \
             or set auth_tcp/auth_tls to \"none\" where the network is trusted"
        )))
    }

    async fn supports_feature(&self, feature: i32) -> Result<bool, Error> {
        let mut args = Encoder::new();
        args.i32(feature);
        let ret = self
            .call(procedure::CONNECT_SUPPORTS_FEATURE, args.into_bytes())
            .await?;
        let mut d = Decoder::new(&ret);
        let supported = d.i32()?;
        d.finish()?;
        Ok(supported != 0)
    }

    fn start_keepalive(&self, interval: Duration, count: u32) {
        let shared = Arc::downgrade(&self.shared);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                if shared.closed_reason().is_some() {
                    return;
                }
                let silent = shared.last_heard.lock().expect("last_heard lock").elapsed();
                if silent >= interval * (count + 1) {
                    shared.close(&format!(
                        "libvirt did not answer keepalive for {}s",
                        silent.as_secs()
                    ));
                    return;
                }
                if silent >= interval {
                    let ping = encode_frame(&Header::keepalive(KEEPALIVE_PROC_PING), &[]);
                    let _ = shared.outgoing.try_send(ping);
                }
            }
        });
        self.shared.tasks.lock().expect("tasks lock").push(task);
    }

    fn next_serial(&self) -> u32 {
        self.shared.next_serial.fetch_add(1, Ordering::Relaxed)
    }

    /// Calls `procedure` with XDR-encoded `args`; the reply's payload, or the error libvirt
    /// reported.
    pub async fn call(&self, procedure: i32, args: Vec<u8>) -> Result<Vec<u8>, Error> {
        let serial = self.next_serial();
        self.call_with_serial(procedure, serial, args).await
    }

    async fn call_with_serial(
        &self,
        procedure: i32,
        serial: u32,
        args: Vec<u8>,
    ) -> Result<Vec<u8>, Error> {
        if let Some(why) = self.shared.closed_reason() {
            return Err(Error::Closed(why));
        }
        let (tx, rx) = oneshot::channel();
        self.shared
            .pending
            .lock()
            .expect("pending lock")
            .insert(serial, tx);
        let frame = encode_frame(&Header::call(procedure, serial), &args);
        self.send_frame(frame).await?;
        match rx.await {
            Ok(r) => r,
            Err(_) => Err(Error::Closed(
                self.shared
                    .closed_reason()
                    .unwrap_or_else(|| "the connection ended".into()),
            )),
        }
    }

    pub(crate) async fn send_frame(&self, frame: Vec<u8>) -> Result<(), Error> {
        self.shared.outgoing.send(frame).await.map_err(|_| {
            Error::Closed(
                self.shared
                    .closed_reason()
                    .unwrap_or_else(|| "the connection ended".into()),
            )
        })
    }

    /// Calls a procedure that opens a stream: the stream is registered before the call
    /// goes out so no packet that follows the reply is missed.
    pub(crate) async fn call_stream(
        &self,
        procedure: i32,
        args: Vec<u8>,
    ) -> Result<super::stream::Stream, Error> {
        let serial = self.next_serial();
        let (tx, rx) = mpsc::channel(STREAM_QUEUE);
        self.shared
            .streams
            .lock()
            .expect("streams lock")
            .insert(serial, tx);
        match self.call_with_serial(procedure, serial, args).await {
            Ok(_) => Ok(super::stream::Stream::new(
                self.clone(),
                procedure,
                serial,
                rx,
            )),
            Err(e) => {
                self.forget_stream(serial);
                Err(e)
            }
        }
    }

    pub(crate) fn forget_stream(&self, serial: u32) {
        self.shared
            .streams
            .lock()
            .expect("streams lock")
            .remove(&serial);
    }

    /// Whether the connection is still up.
    pub fn is_open(&self) -> bool {
        self.shared.closed_reason().is_none()
    }

    /// Closes the connection politely (`CONNECT_CLOSE`), then drops it.
    pub async fn close(self) -> Result<(), Error> {
        let r = self.call(procedure::CONNECT_CLOSE, Vec::new()).await;
        self.shared.close("closed by the client");
        r.map(|_| ())
    }
}

/// Routes one packet; `Err` ends the connection with that reason.
async fn dispatch(shared: &Arc<Shared>, p: Packet) -> Result<(), String> {
    let h = p.header;
    if h.program == KEEPALIVE_PROGRAM {
        if h.procedure == KEEPALIVE_PROC_PING {
            let pong = encode_frame(&Header::keepalive(KEEPALIVE_PROC_PONG), &[]);
            let _ = shared.outgoing.try_send(pong);
        }
        return Ok(());
    }
    if h.program != REMOTE_PROGRAM {
        return Err(format!(
            "libvirt sent a packet of unknown program {:#x}",
            h.program
        ));
    }
    match h.kind {
        MessageType::Reply | MessageType::ReplyWithFds => {
            let result = match h.status {
                Status::Ok => Ok(p.payload),
                _ => Err(remote_error(&p.payload)),
            };
            let waiter = shared
                .pending
                .lock()
                .expect("pending lock")
                .remove(&h.serial);
            match waiter {
                Some(tx) => {
                    let _ = tx.send(result);
                }
                None => {
                    // An error for a stream whose call already returned.
                    if let Err(e) = result {
                        deliver(shared, h.serial, StreamEvent::Failed(e)).await;
                    }
                }
            }
        }
        MessageType::Stream => {
            let event = match h.status {
                // libvirtd marks the end of a stream's data with an empty CONTINUE
                // packet; OK only confirms a finish the client asked for.
                Status::Continue if p.payload.is_empty() => StreamEvent::Eof,
                Status::Continue => StreamEvent::Data(p.payload),
                Status::Ok => StreamEvent::Finished,
                Status::Error => StreamEvent::Failed(remote_error(&p.payload)),
            };
            deliver(shared, h.serial, event).await;
        }
        MessageType::StreamHole => {
            deliver(
                shared,
                h.serial,
                StreamEvent::Failed(Error::Protocol(
                    "libvirt sent a sparse-stream hole, which this client never asks for".into(),
                )),
            )
            .await;
        }
        // Events (we register for none) and anything a server should not send.
        MessageType::Message | MessageType::Call | MessageType::CallWithFds => {}
    }
    Ok(())
}

async fn deliver(shared: &Arc<Shared>, serial: u32, event: StreamEvent) {
    let tx = shared
        .streams
        .lock()
        .expect("streams lock")
        .get(&serial)
        .cloned();
    if let Some(tx) = tx {
        let _ = tx.send(event).await;
    }
}

fn remote_error(payload: &[u8]) -> Error {
    match RemoteError::decode(payload) {
        Ok(e) => Error::Remote(e),
        Err(e) => Error::Protocol(format!("libvirt sent an undecodable error: {e}")),
    }
}
