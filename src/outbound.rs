//! Outbound HTTP requests to addresses clients registered (their JWKS, later their logout
//! endpoints), made so that a registration cannot turn Gatehouse against its own network:
//! no redirects are followed, every request has a deadline and a size cap, and loopback,
//! link-local (cloud metadata) and other special addresses are refused after DNS resolution.
//! Private ranges stay allowed, since apps often live there. SECURITY.md "Outbound requests".
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Whole request, from DNS to the last body byte.
const TIMEOUT: Duration = Duration::from_secs(5);
/// A JWK Set of a few keys is a few KB.
pub const MAX_BODY: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("not a usable URL: {0}")]
    Url(&'static str),
    #[error("the host resolves to a refused address ({0})")]
    Refused(IpAddr),
    #[error("the host does not resolve")]
    Unresolved,
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("timed out")]
    Timeout,
    #[error("HTTP failure: {0}")]
    Http(String),
    #[error("the response is larger than {MAX_BODY} bytes")]
    TooLarge,
}

/// What came back: the status (a redirect is returned as it is, never followed) and the body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

/// The outbound client; one per server.
#[derive(Clone)]
pub struct Outbound {
    allow_loopback: bool,
    /// Made on the first HTTPS request: reading the system's roots (a bundle, then a directory
    /// of some 150 files) took a large share of start-up, and many deployments never call out.
    tls: Arc<tokio::sync::OnceCell<tokio_rustls::TlsConnector>>,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allow_loopback", &self.allow_loopback)
            .finish_non_exhaustive()
    }
}

/// Addresses no registered URL may reach (RFC 6890 special-purpose ranges that are never an
/// app's): unspecified, broadcast, multicast, link-local (169.254.0.0/16 holds the cloud
/// metadata services), the documented metadata addresses outside it, and loopback unless
/// `allow_loopback` (tests, local development).
pub fn is_refused(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(a) => refused_v4(a, allow_loopback),
        IpAddr::V6(a) => {
            if let Some(v4) = a.to_ipv4_mapped() {
                return refused_v4(v4, allow_loopback);
            }
            let link_local = (a.segments()[0] & 0xffc0) == 0xfe80;
            // AWS's IPv6 instance metadata service.
            let metadata = a == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
            a.is_unspecified()
                || a.is_multicast()
                || link_local
                || metadata
                || (a.is_loopback() && !allow_loopback)
        }
    }
}

fn refused_v4(a: Ipv4Addr, allow_loopback: bool) -> bool {
    let [first, ..] = a.octets();
    // Alibaba Cloud's metadata service sits in the shared address space.
    let metadata = a == Ipv4Addr::new(100, 100, 100, 200);
    a.is_unspecified()
        || first == 0
        || a.is_broadcast()
        || a.is_multicast()
        || a.is_link_local()
        || metadata
        || (a.is_loopback() && !allow_loopback)
}

/// TLS with the system's roots, on aws-lc-rs.
fn connector() -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    // Unreadable system certificates leave HTTPS unusable, not the server.
    let found = rustls_native_certs::load_native_certs();
    if let Some(first) = found.errors.first() {
        tracing::warn!(errors = found.errors.len(), error = %first, "some system TLS roots could not be read");
    }
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

impl Outbound {
    pub fn new(allow_loopback: bool) -> Self {
        Self {
            allow_loopback,
            tls: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    async fn tls(&self) -> &tokio_rustls::TlsConnector {
        self.tls
            .get_or_init(|| async {
                // File reads and certificate parsing: off the request threads.
                match tokio::task::spawn_blocking(connector).await {
                    Ok(c) => c,
                    Err(_) => connector(),
                }
            })
            .await
    }

    pub async fn get(&self, url: &str) -> Result<Reply, OutboundError> {
        self.send("GET", url, None).await
    }

    /// POSTs an `application/x-www-form-urlencoded` body. Only the status is read: what the
    /// receiver says beyond it is never used, so its size or pace cannot fail the request.
    pub async fn post_form(&self, url: &str, body: String) -> Result<Reply, OutboundError> {
        self.send("POST", url, Some(body)).await
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Result<Reply, OutboundError> {
        tokio::time::timeout(TIMEOUT, self.exchange(method, url, body))
            .await
            .map_err(|_| OutboundError::Timeout)?
    }

    async fn exchange(
        &self,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Result<Reply, OutboundError> {
        let parsed = url::Url::parse(url).map_err(|_| OutboundError::Url("malformed"))?;
        let https = match parsed.scheme() {
            "https" => true,
            "http" => false,
            _ => return Err(OutboundError::Url("only http and https")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(OutboundError::Url("credentials in the URL"));
        }
        let host = parsed.host_str().ok_or(OutboundError::Url("no host"))?;
        let port = parsed
            .port_or_known_default()
            .ok_or(OutboundError::Url("no port"))?;
        let addr = self.resolve(&parsed, port).await?;
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let mut path = parsed.path().to_owned();
        if let Some(q) = parsed.query() {
            path.push('?');
            path.push_str(q);
        }
        let authority = match parsed.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, authority)
            .header(hyper::header::USER_AGENT, "Gatehouse");
        let read_body = body.is_none();
        req = if read_body {
            req.header(hyper::header::ACCEPT, "application/json")
        } else {
            req.header(
                hyper::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
        };
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| OutboundError::Http(e.to_string()))?;
        if https {
            // The certificate is checked for the host the URL names, not the address.
            let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']))
                .map_err(|_| OutboundError::Url("not a TLS server name"))?
                .to_owned();
            let tls = self.tls().await.connect(name, tcp).await?;
            request_on(TokioIo::new(tls), req, read_body).await
        } else {
            request_on(TokioIo::new(tcp), req, read_body).await
        }
    }

    /// The address to connect to. Every address the name resolves to must be allowed, so a
    /// name cannot pair an allowed address with a refused one and hope for the second.
    async fn resolve(&self, url: &url::Url, port: u16) -> Result<SocketAddr, OutboundError> {
        let addrs: Vec<SocketAddr> = match url.host() {
            Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
            Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
            Some(url::Host::Domain(name)) => tokio::net::lookup_host((name, port))
                .await
                .map_err(|_| OutboundError::Unresolved)?
                .collect(),
            None => return Err(OutboundError::Url("no host")),
        };
        if let Some(bad) = addrs
            .iter()
            .find(|a| is_refused(a.ip(), self.allow_loopback))
        {
            return Err(OutboundError::Refused(bad.ip()));
        }
        addrs.first().copied().ok_or(OutboundError::Unresolved)
    }
}

async fn request_on<T>(
    io: T,
    req: hyper::Request<Full<Bytes>>,
    read_body: bool,
) -> Result<Reply, OutboundError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    let driver = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| OutboundError::Http(e.to_string()))?;
    let status = resp.status().as_u16();
    if !read_body {
        driver.abort();
        return Ok(Reply {
            status,
            body: Bytes::new(),
        });
    }
    let body = Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                OutboundError::TooLarge
            } else {
                OutboundError::Http(e.to_string())
            }
        })?
        .to_bytes();
    driver.abort();
    Ok(Reply { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_refused_and_private_ones_allowed() {
        let refused = [
            "169.254.169.254",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::",
            "fe80::1",
            "fd00:ec2::254",
            "ff02::1",
            "::ffff:169.254.169.254",
        ];
        for ip in refused {
            assert!(is_refused(ip.parse().unwrap(), true), "{ip}");
        }
        for ip in ["127.0.0.1", "::1", "::ffff:127.0.0.1"] {
            assert!(is_refused(ip.parse().unwrap(), false), "{ip}");
            assert!(
                !is_refused(ip.parse().unwrap(), true),
                "{ip} with loopback allowed"
            );
        }
        for ip in [
            "10.1.2.3",
            "192.168.1.10",
            "172.16.0.5",
            "fd12::1",
            "93.184.215.14",
        ] {
            assert!(!is_refused(ip.parse().unwrap(), false), "{ip}");
        }
    }

    /// The system's roots are read on the first HTTPS request, not when the server starts.
    #[tokio::test]
    async fn tls_is_set_up_on_first_use() {
        let out = Outbound::new(true);
        assert!(out.tls.get().is_none());
        // A listener that hangs up: the handshake is attempted, and fails.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                drop(conn);
            }
        });
        assert!(
            out.get(&format!("https://127.0.0.1:{port}/"))
                .await
                .is_err()
        );
        assert!(out.tls.get().is_some());
    }

    #[tokio::test]
    async fn loopback_and_metadata_urls_are_refused_before_connecting() {
        let out = Outbound::new(false);
        for url in [
            "http://127.0.0.1:9/jwks",
            "http://localhost:9/jwks",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:9/",
        ] {
            assert!(
                matches!(out.get(url).await, Err(OutboundError::Refused(_))),
                "{url}"
            );
        }
        assert!(matches!(
            out.get("ftp://example.com/").await,
            Err(OutboundError::Url(_))
        ));
        assert!(matches!(
            out.get("http://user:pw@example.com/").await,
            Err(OutboundError::Url(_))
        ));
    }
}
