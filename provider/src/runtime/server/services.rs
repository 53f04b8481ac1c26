//! The go-plugin services beside the provider: `GRPCController` (Shutdown), `GRPCStdio` and
//! `GRPCBroker`. The last two are opened by Terraform on connect and never used for anything
//! this provider needs, so they are idle streams that close when the server shuts down (which
//! lets the graceful shutdown finish instead of waiting on them).

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status, Streaming};

use super::shutdown::{Reason, Shutdown};
use crate::runtime::proto::plugin::{
    grpc_broker_server::GrpcBroker, grpc_controller_server::GrpcController,
    grpc_stdio_server::GrpcStdio, ConnInfo, Empty, StdioData,
};

/// `plugin.GRPCController`.
#[derive(Debug, Clone)]
pub(super) struct Controller {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcController for Controller {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        tracing::debug!("shutdown requested by the plugin client");
        // The response still goes out: the server stops accepting, then drains in-flight
        // calls (this one included) before the process exits.
        self.shutdown.trigger(Reason::Controller);
        Ok(Response::new(Empty {}))
    }
}

/// `plugin.GRPCStdio`: an open stream that carries nothing. The provider never writes to
/// stdout after the handshake and logs go to stderr, which Terraform already reads.
#[derive(Debug, Clone)]
pub(super) struct Stdio {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcStdio for Stdio {
    async fn stream_stdio(
        &self,
        _request: Request<()>,
    ) -> Result<Response<BoxStream<StdioData>>, Status> {
        Ok(Response::new(idle_until(self.shutdown.clone())))
    }
}

/// `plugin.GRPCBroker`: accepts the stream, reads and ignores what comes in, sends nothing.
#[derive(Debug, Clone)]
pub(super) struct Broker {
    pub shutdown: Shutdown,
}

#[tonic::async_trait]
impl GrpcBroker for Broker {
    async fn start_stream(
        &self,
        request: Request<Streaming<ConnInfo>>,
    ) -> Result<Response<BoxStream<ConnInfo>>, Status> {
        let mut inbound = request.into_inner();
        let shutdown = self.shutdown.clone();
        // Draining keeps HTTP/2 flow control open should a client ever send something.
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = shutdown.wait() => return,
                    message = inbound.message() => match message {
                        Ok(Some(info)) => tracing::debug!(
                            service_id = info.service_id,
                            "ignoring broker connection info; this provider opens no extra connections"
                        ),
                        Ok(None) | Err(_) => return,
                    },
                }
            }
        });
        Ok(Response::new(idle_until(self.shutdown.clone())))
    }
}

/// A response stream that yields nothing and ends when `shutdown` fires.
fn idle_until<T: Send + 'static>(shutdown: Shutdown) -> BoxStream<T> {
    let (sender, receiver) = mpsc::channel::<Result<T, Status>>(1);
    tokio::spawn(async move {
        tokio::select! {
            () = shutdown.wait() => {}
            // The client went away: nothing left to hold open.
            () = sender.closed() => {}
        }
        drop(sender);
    });
    Box::pin(ReceiverStream::new(receiver))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio_stream::StreamExt;

    #[tokio::test]
    async fn controller_shutdown_triggers_the_signal() {
        let shutdown = Shutdown::new();
        let controller = Controller {
            shutdown: shutdown.clone(),
        };
        controller
            .shutdown(Request::new(Empty {}))
            .await
            .expect("answers");
        assert_eq!(shutdown.reason(), Some(Reason::Controller));
    }

    #[tokio::test]
    async fn stdio_stream_stays_open_until_shutdown() {
        let shutdown = Shutdown::new();
        let stdio = Stdio {
            shutdown: shutdown.clone(),
        };
        let mut stream = stdio
            .stream_stdio(Request::new(()))
            .await
            .expect("opens")
            .into_inner();
        let early = tokio::time::timeout(Duration::from_millis(50), stream.next()).await;
        assert!(early.is_err(), "nothing is sent and the stream stays open");
        shutdown.trigger(Reason::Terminate);
        let end = tokio::time::timeout(Duration::from_secs(1), stream.next())
            .await
            .expect("ends after shutdown");
        assert!(end.is_none());
    }
}
