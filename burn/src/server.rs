//! Serving kiln to Burn programs: `burn-remote`'s `BackendServer` over its WebSocket transport.
//! A Burn program built with the `remote-websocket` feature reaches it as
//! `Device::remote_options(&RemoteHost::websocket("ws://127.0.0.1:3000")).init()`; every op it
//! records is sent as Burn's IR and run by [`crate::Kiln`] through `BackendIr`.
//!
//! The device opens before the socket is bound, so a machine without an adapter fails at start
//! with kiln's error instead of on the first client. Errors inside a session (a shape kiln
//! refuses, an index out of range) travel back to the client as Burn's `ExecutionError` when it
//! reads; the server keeps serving.

use crate::{BurnError, Kiln, KilnDevice};
use burn_remote::server::{BackendServer, ServeError, WebSocketTransport};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// Why the server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The address could not be bound (taken, or not an address of this machine).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The kiln device did not open.
    #[error("the kiln device did not open: {0}")]
    Device(Arc<BurnError>),
    /// `burn-remote` stopped serving.
    #[error("burn-remote: {0}")]
    Serve(#[from] ServeError),
}

/// A bound server: the kiln device is open and the socket listens; clients connect once
/// [`serve`](Self::serve) runs.
#[derive(Debug)]
pub struct KilnServer {
    listener: TcpListener,
    addr: SocketAddr,
    describe: String,
}

impl KilnServer {
    /// Open kiln's device and bind `addr` (port 0 picks a free port: [`url`](Self::url) says
    /// which).
    pub fn bind(addr: SocketAddr) -> Result<Self, ServerError> {
        let device = KilnDevice::default().open().map_err(ServerError::Device)?;
        let listener =
            TcpListener::bind(addr).map_err(|source| ServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| ServerError::Bind { addr, source })?;
        Ok(Self {
            listener,
            addr,
            describe: device.describe(),
        })
    }

    /// The address clients dial, `ws://host:port`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The adapter that serves, as kiln describes it.
    pub fn adapter(&self) -> &str {
        &self.describe
    }

    /// Serve until Ctrl+C or `SIGTERM`, blocking the calling thread.
    pub fn serve(self) -> Result<(), ServerError> {
        log::info!("kiln-burn: serving {} on {}", self.describe, self.url());
        BackendServer::<Kiln>::new([KilnDevice::default()])
            .serve(WebSocketTransport::from_listener(self.listener))?;
        Ok(())
    }
}
