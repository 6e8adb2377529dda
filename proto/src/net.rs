//! Dialing other nodes.
//!
//! Every connection a node opens to another node goes through [`channel`],
//! which binds the socket's source address to the node's own bind IP. On
//! loopback each testbed node has its own 127.x.y.z address, so testkit's
//! fault-injecting proxies can tell who is calling and cut one link (a
//! partition) without root or network namespaces.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint, Uri};

static SOURCE_IP: OnceLock<IpAddr> = OnceLock::new();

/// Sets the source IP for every outgoing cluster connection of this process
/// (normally the host of the node's bind address). Unspecified addresses
/// (`0.0.0.0`) are ignored. Only the first call takes effect.
pub fn set_source_ip(ip: IpAddr) {
    if !ip.is_unspecified() {
        let _ = SOURCE_IP.set(ip);
    }
}

/// The source IP set by [`set_source_ip`], if any.
pub fn source_ip() -> Option<IpAddr> {
    SOURCE_IP.get().copied()
}

/// Opens a TCP connection to `addr` from this node's source IP.
pub async fn connect_tcp(addr: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(ip) = source_ip()
        && ip.is_ipv4() == addr.is_ipv4()
    {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Resolves `host:port` (a bare `:port` means localhost).
pub async fn resolve(addr: &str) -> std::io::Result<SocketAddr> {
    let addr = if addr.starts_with(':') { format!("127.0.0.1{addr}") } else { addr.to_string() };
    tokio::net::lookup_host(&addr).await?.next().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, format!("cannot resolve {addr}"))
    })
}

/// A lazily connecting gRPC channel to `addr` (`host:port`) that reconnects
/// by itself and dials from this node's source IP. `timeout` bounds each
/// request; the connect timeout is 1s (Enterprise's `dial-timeout`).
pub fn channel(addr: &str, timeout: Option<Duration>) -> Result<Channel, tonic::transport::Error> {
    let target = addr.to_string();
    let mut ep = Endpoint::from_shared(format!("http://{addr}"))?
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5));
    if let Some(t) = timeout {
        ep = ep.timeout(t);
    }
    let connector = tower::service_fn(move |_uri: Uri| {
        let target = target.clone();
        async move {
            let sa = resolve(&target).await?;
            let stream = connect_tcp(sa).await?;
            Ok::<_, std::io::Error>(TokioIo::new(stream))
        }
    });
    Ok(ep.connect_with_connector_lazy(connector))
}
