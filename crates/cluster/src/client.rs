//! The connection to the API server: kubeconfig (`KUBECONFIG`, `~/.kube/config`), `--context`,
//! exec credential plugins and in-cluster configuration, as kube-rs does them after client-go,
//! and raw JSON requests whose answers stay the API's own text.

use http::{Method, Request};
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::Value;

use crate::error::ClusterError;

/// How to reach the cluster.
#[derive(Clone, Debug, Default)]
pub struct ConnectOptions {
    /// The kubeconfig context (kubectl's `--context`); the current context when `None`.
    pub context: Option<String>,
    /// A kubeconfig file (kubectl's `--kubeconfig`); `KUBECONFIG` or `~/.kube/config` when
    /// `None`, and the in-cluster service account when there is no kubeconfig at all.
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The namespace (kubectl's `-n`); the context's namespace, else `default`, when `None`.
    pub namespace: Option<String>,
}

/// A connected client and the namespace it works in.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    server: String,
    namespace: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Cluster {
    /// Load the configuration as kubectl does and make a client (no request is sent yet).
    pub async fn connect(opts: &ConnectOptions) -> Result<Cluster, ClusterError> {
        let cfg_err = |message: String| ClusterError::Config {
            context: opts.context.clone(),
            message,
        };
        let kube_opts = KubeConfigOptions {
            context: opts.context.clone(),
            ..KubeConfigOptions::default()
        };
        let config = match (&opts.kubeconfig, &opts.context) {
            (Some(path), _) => {
                let kc = Kubeconfig::read_from(path)
                    .map_err(|e| cfg_err(format!("{}: {e}", path.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &kube_opts)
                    .await
                    .map_err(|e| cfg_err(e.to_string()))?
            }
            // A named context needs a kubeconfig: no in-cluster fallback.
            (None, Some(_)) => kube::Config::from_kubeconfig(&kube_opts)
                .await
                .map_err(|e| cfg_err(e.to_string()))?,
            (None, None) => kube::Config::infer()
                .await
                .map_err(|e| cfg_err(e.to_string()))?,
        };
        let server = config.cluster_url.to_string();
        let namespace = match &opts.namespace {
            Some(ns) => ns.clone(),
            None => config.default_namespace.clone(),
        };
        let client = kube::Client::try_from(config).map_err(|e| ClusterError::Transport {
            method: "GET",
            server: server.clone(),
            path: String::new(),
            message: e.to_string(),
        })?;
        Ok(Cluster {
            client,
            server: server.trim_end_matches('/').to_string(),
            namespace,
        })
    }

    /// The namespace in use (`-n`, else the context's, else `default`).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The API server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// GET `path` (with `query` appended when not empty) and return the body as text.
    pub async fn get_text(&self, path: &str) -> Result<String, ClusterError> {
        self.send(Method::GET, "GET", path, Vec::new(), None).await
    }

    /// GET `path` as a JSON object.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClusterError> {
        let text = self.get_text(path).await?;
        decode("GET", path, &text)
    }

    /// POST a JSON object to `path`; the created object.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClusterError> {
        let text = self
            .send(
                Method::POST,
                "POST",
                path,
                body.to_string().into_bytes(),
                Some("application/json"),
            )
            .await?;
        decode("POST", path, &text)
    }

    /// DELETE `path` with foreground propagation (what `kubectl delete --cascade=foreground`
    /// sends), so the DaemonSet's pods go with it.
    pub async fn delete(&self, path: &str) -> Result<(), ClusterError> {
        let body = serde_json::json!({
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Foreground",
        });
        self.send(
            Method::DELETE,
            "DELETE",
            path,
            body.to_string().into_bytes(),
            Some("application/json"),
        )
        .await
        .map(|_| ())
    }

    async fn send(
        &self,
        method: Method,
        verb: &'static str,
        path: &str,
        body: Vec<u8>,
        content_type: Option<&str>,
    ) -> Result<String, ClusterError> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::ACCEPT, "application/json, */*");
        if let Some(ct) = content_type {
            req = req.header(http::header::CONTENT_TYPE, ct);
        }
        let req = req.body(body).map_err(|e| ClusterError::Transport {
            method: verb,
            server: self.server.clone(),
            path: path.to_string(),
            message: e.to_string(),
        })?;
        self.client
            .request_text(req)
            .await
            .map_err(|e| self.error(verb, path, e))
    }

    fn error(&self, method: &'static str, path: &str, e: kube::Error) -> ClusterError {
        match e {
            kube::Error::Api(status) => ClusterError::Api {
                method,
                path: path.to_string(),
                code: status.code,
                reason: status.reason.clone(),
                message: status.message.clone(),
            },
            other => ClusterError::Transport {
                method,
                server: self.server.clone(),
                path: path.to_string(),
                message: error_chain(&other),
            },
        }
    }
}

/// An error and its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

fn decode(method: &'static str, path: &str, text: &str) -> Result<Value, ClusterError> {
    let v: Value = serde_json::from_str(text).map_err(|e| ClusterError::Decode {
        method,
        path: path.to_string(),
        expected: "a JSON object",
        message: e.to_string(),
    })?;
    if !v.is_object() {
        return Err(ClusterError::Decode {
            method,
            path: path.to_string(),
            expected: "a JSON object",
            message: "got another JSON value".into(),
        });
    }
    Ok(v)
}
