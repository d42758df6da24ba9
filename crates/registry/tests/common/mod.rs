//! A scripted in-process HTTP/1.1 server on raw TCP for the registry's integration tests: it
//! can send the headers of an answer and then stall, send an endless body and count what it
//! managed to send before the client hung up, or never answer; it logs every request
//! (`METHOD PATH`, with the query). Several servers on different loopback ports stand for a
//! registry's mirrors and upstream. Only for what a real registry will not do.
#![allow(dead_code)]

pub mod plans;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The body of a scripted answer.
#[derive(Clone)]
pub enum Body {
    /// These bytes, then the connection closes.
    Full(Vec<u8>),
    /// These bytes (of a longer announced `Content-Length`), then nothing, connection open.
    StallAfter(Vec<u8>),
    /// 1 GiB announced, sent in 64 KiB chunks until the client hangs up.
    Endless,
    /// These bytes, sent after a pause (the headers go at once).
    Delayed(Duration, Vec<u8>),
}

/// What the server does with one request.
#[derive(Clone)]
pub enum Script {
    /// `HTTP/1.1 STATUS`, these headers, this body.
    Answer {
        status: &'static str,
        headers: Vec<(String, String)>,
        body: Body,
    },
    /// Read the request and never answer (connection open).
    Silent,
    /// Read the request and close the connection without answering.
    Hangup,
}

pub fn answer(status: &'static str, headers: &[(&str, &str)], body: Body) -> Script {
    Script::Answer {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body,
    }
}

const ENDLESS_LEN: u64 = 1 << 30;

/// One request as the server saw it.
pub struct Req {
    pub method: String,
    pub path: String,
    /// The request head (request line and headers).
    pub head: String,
    /// The server's `127.0.0.1:PORT`.
    pub host: String,
}

pub type Handler = dyn Fn(&Req) -> Script + Send + Sync;

/// What the server saw and did.
#[derive(Default)]
pub struct Stats {
    /// `METHOD PATH` of every request.
    pub requests: Mutex<Vec<String>>,
    /// Body bytes written by endless answers that the kernel accepted.
    pub endless_sent: AtomicU64,
    /// Endless answers whose client hung up.
    pub endless_done: AtomicU64,
}

pub struct Server {
    pub host: String,
    pub stats: Arc<Stats>,
}

impl Server {
    pub fn requests(&self) -> Vec<String> {
        self.stats.requests.lock().unwrap().clone()
    }

    /// Wait until `n` endless answers ended (their client hung up), then the bytes they sent.
    pub async fn endless_sent_after_hang_up(&self, n: u64) -> u64 {
        let t = Instant::now();
        while self.stats.endless_done.load(Ordering::SeqCst) < n {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the client never hung up on the endless body (sent {} bytes)",
                self.stats.endless_sent.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = self.stats.endless_sent.load(Ordering::SeqCst);
        eprintln!("the server sent {sent} bytes before the client hung up");
        sent
    }
}

/// Start a server on 127.0.0.1; `handler` scripts each request.
pub async fn serve(handler: impl Fn(&Req) -> Script + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let stats = Arc::new(Stats::default());
    let handler: Arc<Handler> = Arc::new(handler);
    let (h, s) = (host.clone(), stats.clone());
    tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(connection(conn, handler.clone(), h.clone(), s.clone()));
        }
    });
    Server { host, stats }
}

async fn connection(mut conn: TcpStream, handler: Arc<Handler>, host: String, stats: Arc<Stats>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let Ok(n) = conn.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buf.extend_from_slice(&chunk[..n]);
        if !buf[0].is_ascii_uppercase() {
            // Not HTTP (a TLS ClientHello): answer as an HTTP server does.
            let _ = conn
                .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                .await;
            return;
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("");
    stats
        .requests
        .lock()
        .unwrap()
        .push(format!("{method} {path}"));
    let path = path.to_string();
    let req = Req {
        method: method.clone(),
        path,
        head,
        host,
    };
    let script = handler(&req);
    let (status, headers, body) = match script {
        Script::Answer {
            status,
            headers,
            body,
        } => (status, headers, body),
        Script::Hangup => return,
        Script::Silent => {
            std::future::pending::<()>().await;
            return;
        }
    };
    let len = match &body {
        Body::Full(b) => b.len() as u64,
        Body::StallAfter(b) => b.len() as u64 + 1000,
        Body::Delayed(_, b) => b.len() as u64,
        Body::Endless => ENDLESS_LEN,
    };
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {len}\r\nConnection: close\r\n");
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    if conn.write_all(out.as_bytes()).await.is_err() || method == "HEAD" {
        return;
    }
    match body {
        Body::Full(b) => {
            let _ = conn.write_all(&b).await;
        }
        Body::Delayed(pause, b) => {
            tokio::time::sleep(pause).await;
            let _ = conn.write_all(&b).await;
        }
        Body::StallAfter(b) => {
            let _ = conn.write_all(&b).await;
            std::future::pending::<()>().await;
        }
        Body::Endless => {
            let block = vec![b'x'; 64 << 10];
            loop {
                match conn.write(&block).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        stats.endless_sent.fetch_add(n as u64, Ordering::SeqCst);
                    }
                }
            }
            stats.endless_done.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `f`, failing the test instead of hanging when it does not end within 20 s.
pub async fn within_20s<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("the client hung: a network read has no deadline")
}

/// An in-memory blob sink that verifies size and digest at commit, as the store does.
#[derive(Default)]
pub struct MemSink {
    pub blobs: Mutex<std::collections::HashMap<String, Vec<u8>>>,
}

struct MemWrite {
    sink: Arc<MemSink>,
    expected: pullsim_reference::Digest,
    size: u64,
    buf: Vec<u8>,
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

impl pullsim_registry::BlobWrite for MemWrite {
    fn offset(&self) -> u64 {
        self.buf.len() as u64
    }
    fn already_exists(&self) -> bool {
        false
    }
    fn write_bytes(&mut self, chunk: bytes::Bytes) -> Result<(), pullsim_registry::SinkError> {
        self.buf.extend_from_slice(&chunk);
        Ok(())
    }
    fn truncate(&mut self) -> Result<(), pullsim_registry::SinkError> {
        self.buf.clear();
        Ok(())
    }
    fn commit(self: Box<Self>) -> Result<pullsim_registry::Committed, pullsim_registry::SinkError> {
        if self.buf.len() as u64 != self.size {
            return Err(pullsim_registry::SinkError::SizeMismatch {
                what: self.expected.to_string(),
                digest: self.expected.clone(),
                expected: self.size,
                actual: self.buf.len() as u64,
            });
        }
        let actual = sha256(&self.buf);
        assert_eq!(actual, self.expected.to_string(), "blob content");
        self.sink
            .blobs
            .lock()
            .unwrap()
            .insert(actual, self.buf.clone());
        Ok(pullsim_registry::Committed::Stored)
    }
    fn abort(self: Box<Self>) {}
}

/// A [`MemSink`] as the client takes it.
pub struct SharedSink(pub Arc<MemSink>);

impl pullsim_registry::BlobSink for SharedSink {
    fn has(&self, digest: &pullsim_reference::Digest) -> bool {
        self.0
            .blobs
            .lock()
            .unwrap()
            .contains_key(&digest.to_string())
    }
    fn read_small(
        &self,
        digest: &pullsim_reference::Digest,
    ) -> Result<Option<Vec<u8>>, pullsim_registry::SinkError> {
        Ok(self
            .0
            .blobs
            .lock()
            .unwrap()
            .get(&digest.to_string())
            .cloned())
    }
    fn writer(
        &self,
        _ingest_ref: &str,
        expected: &pullsim_reference::Digest,
        size: u64,
    ) -> Result<Box<dyn pullsim_registry::BlobWrite>, pullsim_registry::SinkError> {
        Ok(Box::new(MemWrite {
            sink: self.0.clone(),
            expected: expected.clone(),
            size,
            buf: Vec::new(),
        }))
    }
    fn put(
        &self,
        digest: &pullsim_reference::Digest,
        bytes: &[u8],
    ) -> Result<pullsim_registry::Committed, pullsim_registry::SinkError> {
        assert_eq!(sha256(bytes), digest.to_string(), "manifest content");
        self.0
            .blobs
            .lock()
            .unwrap()
            .insert(digest.to_string(), bytes.to_vec());
        Ok(pullsim_registry::Committed::Stored)
    }
}

/// A one-layer image: config, layer and manifest bytes with their digests.
#[derive(Clone)]
pub struct TinyImage {
    pub config: Vec<u8>,
    pub layer: Vec<u8>,
    pub manifest: Vec<u8>,
    pub config_digest: String,
    pub layer_digest: String,
    pub manifest_digest: String,
}

impl TinyImage {
    /// An image whose layer holds `content`.
    pub fn new(content: &str) -> TinyImage {
        let config = format!(
            r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[]}},"config":{{"Env":["C={content}"]}}}}"#
        )
        .into_bytes();
        let layer = content.as_bytes().to_vec();
        let (config_digest, layer_digest) = (sha256(&config), sha256(&layer));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}],
        })
        .to_string()
        .into_bytes();
        let manifest_digest = sha256(&manifest);
        TinyImage {
            config,
            layer,
            manifest,
            config_digest,
            layer_digest,
            manifest_digest,
        }
    }

    /// The answer of a registry holding this image as `repo:tag` (any other path: 404),
    /// for a request path without its query.
    pub fn answer(&self, repo: &str, tag: &str, req: &Req) -> Script {
        let path = req.path.split('?').next().unwrap_or("");
        let base = format!("/v2/{repo}/");
        let Some(rest) = path.strip_prefix(&base) else {
            return not_found("NAME_UNKNOWN");
        };
        let manifest = |body: &[u8]| {
            let headers = vec![
                (
                    "Content-Type".to_string(),
                    "application/vnd.oci.image.manifest.v1+json".to_string(),
                ),
                (
                    "Docker-Content-Digest".to_string(),
                    self.manifest_digest.clone(),
                ),
            ];
            // The server writes Content-Length from the body: a HEAD gets it, not the body.
            Script::Answer {
                status: "200 OK",
                headers,
                body: Body::Full(body.to_vec()),
            }
        };
        if rest == format!("manifests/{tag}")
            || rest == format!("manifests/{}", self.manifest_digest)
        {
            return manifest(&self.manifest);
        }
        let blob = |b: &[u8]| answer("200 OK", &[], Body::Full(b.to_vec()));
        if rest == format!("blobs/{}", self.config_digest) {
            return blob(&self.config);
        }
        if rest == format!("blobs/{}", self.layer_digest) {
            return blob(&self.layer);
        }
        if rest.starts_with("blobs/") {
            return not_found("BLOB_UNKNOWN");
        }
        not_found("MANIFEST_UNKNOWN")
    }
}

/// A 404 with the registry's error envelope.
pub fn not_found(code: &str) -> Script {
    let body = format!(r#"{{"errors":[{{"code":"{code}","message":"unknown"}}]}}"#);
    Script::Answer {
        status: "404 Not Found",
        headers: vec![("Content-Type".to_string(), "application/json".to_string())],
        body: Body::Full(body.into_bytes()),
    }
}
