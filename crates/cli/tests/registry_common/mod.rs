//! Helpers shared by the CLI tests that talk to the real registry (`pull_cli`, `creds_check_cli`).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use pullsim_testsupport::RegistryHandle;
use pullsim_testsupport::image::{ImageSpec, generate};

static PUSHED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Push a small generated image (`layers` layers of `layer_size` bytes) once per registry and
/// repository; returns the top digest.
pub fn push(
    reg: &RegistryHandle,
    repo_tag: &str,
    seed: u64,
    layers: usize,
    layer_size: usize,
) -> String {
    let dir = tempfile::tempdir().unwrap().keep();
    let spec = ImageSpec::simple("v1", layers, layer_size, seed);
    let img = generate(&dir.join("layout"), &spec).unwrap();
    let key = format!("{}/{repo_tag}", reg.host);
    let mut pushed = PUSHED.lock().unwrap();
    if !pushed.contains(&key) {
        reg.push_image(&img, repo_tag).unwrap();
        pushed.push(key);
    }
    img.top_digest().to_string()
}

/// A dockerconfigjson Secret file (stringData) for `host` with `user`/`pass`.
pub fn secret(dir: &Path, name: &str, host: &str, user: &str, pass: &str) -> PathBuf {
    let cfg = serde_json::json!({"auths": {host: {"username": user, "password": pass}}});
    let doc = serde_json::json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": "default"},
        "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": cfg.to_string()},
    });
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, doc.to_string()).unwrap();
    p
}
