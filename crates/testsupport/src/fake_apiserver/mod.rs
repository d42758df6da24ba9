//! A fake Kubernetes API server for pullsim's cluster tests: an in-process HTTPS server on
//! `127.0.0.1` (its own test CA, in the kubeconfig it writes) that serves fixtures in the API's documented shapes (discovery documents,
//! objects as `kubectl get -o json` prints them, lists with label selectors, pod logs, Status
//! errors, TokenRequest on `serviceaccounts/NAME/token`), creates and deletes objects, plays the DaemonSet controller (one pod per configured
//! node, whose check container's log is the node's fixture text), answers 403 on secrets when
//! told to, and records every request. Real `kubectl` and pullsim both talk to it through the
//! kubeconfig it writes ([`FakeApiServer::write_kubeconfig`]).

mod discovery;
mod handler;
mod state;
#[cfg(test)]
mod tests;
mod tls;

pub use state::ApiRequest;
use state::State;

use crate::background::Background;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;
use serde_json::Value;

use crate::RegistryError;

/// A running fake API server (a background thread with its own tokio runtime). Dropping it
/// stops it.
pub struct FakeApiServer {
    addr: SocketAddr,
    ca_pem: String,
    state: Arc<Mutex<State>>,
    /// Stopped (and joined) when the server is dropped.
    _server: Background,
}

/// How the kubeconfig's user authenticates.
#[derive(Clone, Debug)]
pub enum KubeAuth {
    /// A static bearer token (`users[].user.token`).
    Token,
    /// An exec credential plugin (client.authentication.k8s.io/v1): `command` run with `args`,
    /// printing an ExecCredential with the token.
    Exec {
        /// The program.
        command: PathBuf,
        /// Its arguments.
        args: Vec<String>,
    },
}

impl FakeApiServer {
    /// Start on `https://127.0.0.1:<free port>`; a request without `Authorization: Bearer
    /// TOKEN` gets 401 Unauthorized.
    pub fn start(token: &str) -> Result<FakeApiServer, RegistryError> {
        let io = |what: &'static str, source: std::io::Error| RegistryError::Io {
            what,
            path: PathBuf::from("127.0.0.1:0"),
            source,
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| io("binding", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| io("setting non-blocking", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| io("reading the address of", e))?;
        let state = Arc::new(Mutex::new(State {
            token: token.to_string(),
            ..State::default()
        }));
        let material = crate::certs::TlsMaterial::generate()?;
        let acceptor = tls::acceptor(&material)?;
        let app = handler::router(state.clone());
        let server = Background::serve(
            format!("pullsim-apiserver-{}", addr.port()),
            listener,
            |tcp| tls::TlsListener { tcp, acceptor },
            app,
        )
        .map_err(|(what, e)| io(what, e))?;
        Ok(FakeApiServer {
            addr,
            ca_pem: material.ca_pem,
            state,
            _server: server,
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The CA certificate (PEM) of the server's certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// Serve `object` (as `kubectl get -o json` prints it) at its API path; `List`s add each
    /// item. Objects of unknown kinds are refused.
    pub fn add_object(&self, object: Value) -> Result<(), RegistryError> {
        if object.get("kind").and_then(Value::as_str) == Some("List") {
            for item in object
                .get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                self.add_object(item.clone())?;
            }
            return Ok(());
        }
        let path = handler::object_path(&object).ok_or_else(|| RegistryError::Config {
            field: "fake apiserver object",
            reason: format!("no API path for {object}"),
        })?;
        self.state().objects.insert(path, object);
        Ok(())
    }

    /// Answer 403 Forbidden (as RBAC does) to every read of a secret.
    pub fn forbid_secrets(&self, forbid: bool) {
        self.state().forbid_secrets = forbid;
    }

    /// The nodes the DaemonSet controller schedules on, each with the log text its pod's
    /// `node-check` container prints.
    pub fn set_nodes(&self, nodes: &[(&str, &str)]) {
        self.state().nodes = nodes
            .iter()
            .map(|(n, l)| (n.to_string(), l.to_string()))
            .collect();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<ApiRequest> {
        self.state().requests.clone()
    }

    /// Forget the requests so far.
    pub fn clear_requests(&self) {
        self.state().requests.clear();
    }

    /// The object at an API path, if it exists now.
    pub fn object(&self, path: &str) -> Option<Value> {
        self.state().objects.get(path).cloned()
    }

    /// Write a kubeconfig for this server at `path`: context `fake` (current) with
    /// `namespace`, and context `other` in namespace `other`, both as user `tester`.
    pub fn write_kubeconfig(
        &self,
        path: &Path,
        namespace: &str,
        auth: &KubeAuth,
    ) -> Result<(), RegistryError> {
        let token = self.state().token.clone();
        let user = match auth {
            KubeAuth::Token => serde_json::json!({ "token": token }),
            KubeAuth::Exec { command, args } => serde_json::json!({
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": command,
                    "args": args,
                    "interactiveMode": "Never",
                    "provideClusterInfo": false,
                }
            }),
        };
        let cfg = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {
                "server": self.url(),
                "certificate-authority-data": base64::engine::general_purpose::STANDARD.encode(&self.ca_pem),
            }}],
            "users": [{"name": "tester", "user": user}],
            "contexts": [
                {"name": "fake", "context": {"cluster": "fake", "user": "tester", "namespace": namespace}},
                {"name": "other", "context": {"cluster": "fake", "user": "tester", "namespace": "other"}},
            ],
            "current-context": "fake",
            "preferences": {},
        });
        // JSON is YAML: kubectl and kube-rs both read it.
        std::fs::write(path, cfg.to_string()).map_err(|source| RegistryError::Io {
            what: "writing",
            path: path.to_path_buf(),
            source,
        })
    }
}
