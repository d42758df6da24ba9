//! Shared by the cluster tests: the fake API server with a Deployment, its ServiceAccount and
//! pull secret (as `kubectl get -o json` prints them), a kubeconfig, and the binaries.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pullsim_testsupport::fake_apiserver::{ApiRequest, FakeApiServer, KubeAuth};
use serde_json::{Value, json};

use crate::pod_common::base64 as b64;

pub const TOKEN: &str = "fake-bearer-token-5e1b";
pub const PASSWORD: &str = "s3cr3t-pass-91";

pub struct Env {
    pub server: FakeApiServer,
    pub dir: tempfile::TempDir,
    pub kubeconfig: PathBuf,
}

/// A Deployment as `kubectl get deployment web -n NS -o json` prints it (managed fields,
/// status and all).
pub fn deployment(ns: &str, name: &str, image: &str, sa: &str) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "annotations": {"deployment.kubernetes.io/revision": "1"},
            "creationTimestamp": "2026-11-30T09:12:44Z",
            "generation": 1,
            "labels": {"app": name},
            "managedFields": [{"apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {}}, "manager": "kubectl-create", "operation": "Update", "time": "2026-11-30T09:12:44Z"}],
            "name": name,
            "namespace": ns,
            "resourceVersion": "48213",
            "uid": "6f1c1f0e-8d4e-4a55-9a8e-0e7c4b9d2a10"
        },
        "spec": {
            "progressDeadlineSeconds": 600,
            "replicas": 2,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}, "type": "RollingUpdate"},
            "template": {
                "metadata": {"creationTimestamp": null, "labels": {"app": name}},
                "spec": {
                    "containers": [{
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "name": "app",
                        "resources": {},
                        "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File"
                    }],
                    "dnsPolicy": "ClusterFirst",
                    "restartPolicy": "Always",
                    "schedulerName": "default-scheduler",
                    "securityContext": {},
                    "serviceAccount": sa,
                    "serviceAccountName": sa,
                    "terminationGracePeriodSeconds": 30
                }
            }
        },
        "status": {
            "conditions": [{"lastTransitionTime": "2026-11-30T09:12:44Z", "lastUpdateTime": "2026-11-30T09:12:44Z", "message": "Deployment does not have minimum availability.", "reason": "MinimumReplicasUnavailable", "status": "False", "type": "Available"}],
            "observedGeneration": 1,
            "replicas": 2,
            "unavailableReplicas": 2,
            "updatedReplicas": 2
        }
    })
}

pub fn service_account(ns: &str, name: &str, secrets: &[&str]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "imagePullSecrets": secrets.iter().map(|s| json!({"name": s})).collect::<Vec<_>>(),
        "metadata": {
            "creationTimestamp": "2026-11-30T09:10:02Z",
            "name": name,
            "namespace": ns,
            "resourceVersion": "48100",
            "uid": "0b7f3f5e-2c59-4f43-a7ad-36b1f5a3c2d1"
        }
    })
}

pub fn pull_secret(ns: &str, name: &str, server: &str) -> Value {
    let auth = b64(format!("alice:{PASSWORD}").as_bytes());
    let cfg = json!({"auths": {server: {"username": "alice", "password": PASSWORD, "auth": auth}}});
    json!({
        "apiVersion": "v1",
        "data": {".dockerconfigjson": b64(cfg.to_string().as_bytes())},
        "kind": "Secret",
        "metadata": {
            "creationTimestamp": "2026-11-30T09:09:40Z",
            "name": name,
            "namespace": ns,
            "resourceVersion": "48090",
            "uid": "c1d6a3a4-77a2-4b1e-9d0c-5f2b1e0a9c3b"
        },
        "type": "kubernetes.io/dockerconfigjson"
    })
}

/// The fake server with deployment/web (ns shop, ServiceAccount builder -> Secret regcred for
/// registry.test) and a kubeconfig whose current context `fake` has namespace `default`.
pub fn env(auth: &KubeAuth) -> Env {
    let server = FakeApiServer::start(TOKEN).unwrap();
    for ns in ["default", "shop", "other"] {
        server
            .add_object(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}))
            .unwrap();
    }
    server
        .add_object(deployment(
            "shop",
            "web",
            "registry.test/team/app:v1",
            "builder",
        ))
        .unwrap();
    server
        .add_object(service_account("shop", "builder", &["regcred"]))
        .unwrap();
    server
        .add_object(pull_secret("shop", "regcred", "registry.test"))
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default", auth)
        .unwrap();
    Env {
        server,
        dir,
        kubeconfig,
    }
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

fn out(o: Output) -> Out {
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// The directory of the built binaries (pullsim and kubectl-pullsim), for PATH.
pub fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_pullsim"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl Env {
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    fn command(&self, program: &Path) -> Command {
        let mut c = Command::new(program);
        let path = format!(
            "{}:{}",
            bin_dir().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("PATH", path)
            .env("HOME", self.dir.path())
            .env("PULLSIM_ROOT", self.root())
            .env_remove("NO_COLOR");
        c
    }

    pub fn pullsim(&self, args: &[&str]) -> Out {
        out(self
            .command(Path::new(env!("CARGO_BIN_EXE_pullsim")))
            .args(args)
            .output()
            .unwrap())
    }

    pub fn plugin(&self, args: &[&str]) -> Out {
        out(self
            .command(Path::new(env!("CARGO_BIN_EXE_kubectl-pullsim")))
            .args(args)
            .output()
            .unwrap())
    }

    /// Real kubectl, with the plugin on PATH.
    pub fn kubectl(&self, args: &[&str]) -> Out {
        out(self
            .command(Path::new("kubectl"))
            .args(args)
            .output()
            .unwrap())
    }

    pub fn requests(&self) -> Vec<ApiRequest> {
        self.server.requests()
    }

    /// `METHOD PATH[?QUERY]` of every request, in order, discovery left out.
    pub fn request_lines(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| !is_discovery(&r.path))
            .map(|r| match &r.query {
                Some(q) => format!("{} {}?{q}", r.method, r.path),
                None => format!("{} {}", r.method, r.path),
            })
            .collect()
    }
}

pub fn is_discovery(path: &str) -> bool {
    matches!(
        path,
        "/api" | "/apis" | "/version" | "/api/v1" | "/apis/apps/v1" | "/apis/batch/v1"
    ) || path.starts_with("/openapi")
}
