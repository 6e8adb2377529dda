//! The HTTP port's listener, watching for clients of the cluster port: a
//! snapshotter client that reached the HTTP port (`influxd backup -host
//! <data node>:8086`, first byte 3) gets a log line naming the right port. The connection still goes to the HTTP
//! server, whose `400 Bad Request` is what the client sees (the real
//! `influxd backup` then reports `invalid metadata received`, the testbed's
//! `data-node backup` a wrong port).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tracing::warn;

/// A listener whose connections report a cluster-port client.
pub struct GuardedListener {
    inner: TcpListener,
    tcp_addr: String,
}

impl GuardedListener {
    /// Wraps the HTTP listener; `tcp_addr` is the cluster port to name.
    pub fn new(inner: TcpListener, tcp_addr: String) -> GuardedListener {
        GuardedListener { inner, tcp_addr }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = Sniffed;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            match self.inner.accept().await {
                Ok((s, peer)) => {
                    // Responses go out in several writes: without this, Nagle
                    // holds the last one until the client's delayed ACK (40 ms).
                    let _ = s.set_nodelay(true);
                    let io =
                        Sniffed { inner: s, peer, first: true, tcp_addr: self.tcp_addr.clone() };
                    return (io, peer);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// What a connection's first bytes say about its client.
pub fn cluster_client(first: &[u8]) -> Option<&'static str> {
    match first {
        [3, ..] => Some("a snapshotter client (influxd backup/restore)"),
        _ => None,
    }
}

/// A TCP stream that looks at its first read.
pub struct Sniffed {
    inner: TcpStream,
    peer: SocketAddr,
    first: bool,
    tcp_addr: String,
}

impl AsyncRead for Sniffed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if self.first && matches!(res, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.first = false;
            if let Some(what) = cluster_client(&buf.filled()[before..]) {
                warn!(
                    peer = %self.peer,
                    cluster_port = %self.tcp_addr,
                    "{what} connected to the HTTP port: it belongs on the cluster TCP port (bind-address, 8088)"
                );
            }
        }
        res
    }
}

impl AsyncWrite for Sniffed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
