//! libvirt data streams (volume upload and download, the domain console): after the call
//! that opens one is answered, both sides send `STREAM` packets with the call's serial:
//! status `CONTINUE` carries raw bytes (an empty one marks the end of the sender's data),
//! the client ends the stream with `OK` and libvirtd confirms with `OK`, and `ERROR`
//! aborts it with a `remote_error`.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::client::{Client, StreamEvent};
use super::packet::{encode_frame, Header, Status, STREAM_CHUNK};
use super::Error;

/// An open stream. Dropping it unfinished aborts it.
pub struct Stream {
    client: Client,
    procedure: i32,
    serial: u32,
    events: mpsc::Receiver<StreamEvent>,
    /// The peer sent the end of its data.
    peer_finished: bool,
    /// We finished or aborted: nothing more to send.
    done: bool,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("procedure", &self.procedure)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

impl Stream {
    pub(crate) fn new(
        client: Client,
        procedure: i32,
        serial: u32,
        events: mpsc::Receiver<StreamEvent>,
    ) -> Stream {
        Stream {
            client,
            procedure,
            serial,
            events,
            peer_finished: false,
            done: false,
        }
    }

    fn frame(&self, status: Status, payload: &[u8]) -> Vec<u8> {
        encode_frame(
            &Header::stream(self.procedure, self.serial, status),
            payload,
        )
    }

    /// Sends bytes, in packets of at most 256 KiB. Fails early if libvirt already
    /// aborted the stream.
    pub async fn send(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.done {
            return Err(Error::Protocol("send on a finished stream".into()));
        }
        for chunk in data.chunks(STREAM_CHUNK) {
            // libvirt reports a failed upload (a full disk, a deleted volume) as a
            // STREAM ERROR while we are still sending.
            match self.events.try_recv() {
                Ok(StreamEvent::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Ok(StreamEvent::Finished | StreamEvent::Eof) => self.peer_finished = true,
                Ok(StreamEvent::Data(_)) | Err(_) => {}
            }
            self.client
                .send_frame(self.frame(Status::Continue, chunk))
                .await?;
        }
        Ok(())
    }

    /// The next bytes libvirt sent; `None` once it finished the stream.
    pub async fn recv(&mut self) -> Result<Option<Vec<u8>>, Error> {
        if self.peer_finished {
            return Ok(None);
        }
        match self.events.recv().await {
            Some(StreamEvent::Data(d)) => Ok(Some(d)),
            Some(StreamEvent::Eof | StreamEvent::Finished) => {
                self.peer_finished = true;
                Ok(None)
            }
            Some(StreamEvent::Failed(e)) => {
                self.done = true;
                Err(e)
            }
            None => Err(Error::Closed("the connection ended".into())),
        }
    }

    /// Ends the stream: sends `OK` and waits for libvirt's `OK` (or its error: an upload
    /// that libvirt could not write fails here).
    pub async fn finish(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.send_frame(self.frame(Status::Ok, &[])).await?;
        loop {
            match self.events.recv().await {
                Some(StreamEvent::Finished) => return Ok(()),
                // Data still in flight from the peer (a console) is dropped.
                Some(StreamEvent::Data(_) | StreamEvent::Eof) => {}
                Some(StreamEvent::Failed(e)) => return Err(e),
                None => return Err(Error::Closed("the connection ended".into())),
            }
        }
    }

    /// Aborts the stream without waiting.
    pub async fn abort(mut self) -> Result<(), Error> {
        self.done = true;
        self.client.send_frame(self.frame(Status::Error, &[])).await
    }

    /// Sends everything `source` yields, then finishes. Returns the bytes sent.
    pub async fn upload_from<R: AsyncRead + Unpin>(mut self, mut source: R) -> Result<u64, Error> {
        let mut buf = vec![0u8; STREAM_CHUNK];
        let mut total = 0u64;
        loop {
            let n = source.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            self.send(&buf[..n]).await?;
            total += n as u64;
        }
        self.finish().await?;
        Ok(total)
    }

    /// Writes everything libvirt sends to `sink` until it finishes, then confirms the
    /// end. Returns the bytes received.
    pub async fn download_to<W: AsyncWrite + Unpin>(mut self, mut sink: W) -> Result<u64, Error> {
        let mut total = 0u64;
        while let Some(data) = self.recv().await? {
            sink.write_all(&data).await?;
            total += data.len() as u64;
        }
        sink.flush().await?;
        self.finish().await?;
        Ok(total)
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.client.forget_stream(self.serial);
        if !self.done {
            // Best effort: tell libvirt we walked away.
            let frame = self.frame(Status::Error, &[]);
            let client = self.client.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = client.send_frame(frame).await;
                });
            }
        }
    }
}
