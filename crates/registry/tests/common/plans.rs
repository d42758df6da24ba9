//! Host plans over the scripted servers: plain-HTTP host entries, plans, references, pulls
//! into a [`super::MemSink`], servers answering a scripted status sequence.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pullsim_reference::Reference;
use pullsim_registry::{
    Capabilities, Client, ClientOptions, HostPlan, NoProgress, PullOutcome, RegistryHost, Resolver,
};

use super::{Body, MemSink, Req, Server, SharedSink, TinyImage, answer, serve};

pub const REPO: &str = "team/app";

pub fn client() -> Client {
    Client::new(ClientOptions::default()).unwrap()
}

/// A plain-HTTP host entry (as `[host."http://127.0.0.1:PORT"]`).
pub fn host(h: &str, caps: Capabilities) -> RegistryHost {
    RegistryHost {
        scheme: "http".into(),
        host: h.into(),
        path: "/v2".into(),
        capabilities: caps,
        tls: None,
        headers: Vec::new(),
        dial_timeout: None,
        http_fallback: false,
    }
}

pub fn plan(hosts: Vec<RegistryHost>, resolver: Resolver) -> HostPlan {
    HostPlan {
        hosts,
        resolver,
        credentials: Arc::new(|_| None),
    }
}

pub fn reference(registry: &str, tail: &str) -> Reference {
    Reference::parse_normalized(&format!("{registry}/{REPO}{tail}")).unwrap()
}

/// `?ns=` as containerd's `url.Values.Encode` writes a registry host.
pub fn ns(registry: &str) -> String {
    format!("?ns={}", registry.replace(':', "%3A"))
}

pub async fn pull(c: &Client, r: &Reference, p: &HostPlan) -> pullsim_registry::HostsPullReport {
    let sink = Arc::new(MemSink::default());
    c.pull_on(r, p, Arc::new(SharedSink(sink)), &NoProgress, None)
        .await
}

pub fn pulled_config(report: &pullsim_registry::HostsPullReport) -> String {
    match report.result.as_ref().unwrap() {
        PullOutcome::Pulled(p) => p.config_digest.to_string(),
        other => panic!("{other:?}"),
    }
}

pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A server answering each request with the next status of `statuses` (then the image).
pub async fn scripted(statuses: Vec<&'static str>, img: TinyImage) -> (Server, Arc<AtomicUsize>) {
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    let server = serve(move |req: &Req| {
        let i = count.fetch_add(1, Ordering::SeqCst);
        match statuses.get(i) {
            Some(s) => answer(s, &[], Body::Full(Vec::new())),
            None => img.answer(REPO, "v1", req),
        }
    })
    .await;
    (server, n)
}
