//! HTTPS for the fake API server: a listener that finishes the TLS handshake before handing a
//! connection to axum, with the server certificate of [`TlsMaterial`].

use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::RegistryError;
use crate::certs::TlsMaterial;

/// TCP accept, then the TLS handshake; failed handshakes are dropped and the next connection
/// is awaited.
pub(crate) struct TlsListener {
    pub tcp: TcpListener,
    pub acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// The acceptor for `material`'s server certificate (aws-lc-rs, TLS 1.2 and 1.3).
pub(crate) fn acceptor(material: &TlsMaterial) -> Result<TlsAcceptor, RegistryError> {
    let bad = |reason: String| RegistryError::Config {
        field: "fake apiserver TLS",
        reason,
    };
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(material.server_cert_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| bad(format!("server certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(material.server_key_pem.as_bytes())
        .map_err(|e| bad(format!("server key: {e}")))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
