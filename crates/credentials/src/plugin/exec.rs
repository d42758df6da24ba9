//! Running one plugin: pkg/credentialprovider/plugin/plugin.go `execPlugin.ExecPlugin`.
//!
//! `$ ENV=VALUE <bin-dir>/<name> args... <<< CredentialProviderRequest`; the process
//! environment plus the configured `env` (configured last, so it wins); a timeout (1 minute in
//! the kubelet) after which the process is killed; the response's `apiVersion` must equal the
//! configured one; a response that does not decode is reported without its content (it may hold
//! credentials).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::duration::parse_go_duration;
use crate::auth::go_json_string;
use crate::error::PluginError;

/// `cacheKeyType` of a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKeyType {
    /// Cache per image (`Image`).
    Image,
    /// Cache per registry host (`Registry`).
    Registry,
    /// One cache entry for everything (`Global`).
    Global,
}

/// A decoded `CredentialProviderResponse` (credentials kept as (pattern, user, password)).
#[derive(Debug, Clone)]
pub struct Response {
    /// `cacheKeyType` as written (validated by the caller, as upstream).
    pub cache_key_type: String,
    /// `cacheDuration` in nanoseconds (`None` when absent).
    pub cache_duration: Option<i128>,
    /// `auth`: match pattern → (username, password).
    pub auth: Vec<(String, String, crate::Secret)>,
}

/// Build the request JSON (what the kubelet's versioned encoder writes): `serviceAccountToken`
/// and `serviceAccountAnnotations` are `omitempty`, map keys sorted as Go marshals them.
pub fn encode_request(
    api_version: &str,
    image: &str,
    token: &str,
    annotations: &BTreeMap<String, String>,
) -> String {
    let mut out = format!(
        "{{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":{},\"image\":{}",
        go_json_string(api_version),
        go_json_string(image)
    );
    if !token.is_empty() {
        out.push_str(&format!(
            ",\"serviceAccountToken\":{}",
            go_json_string(token)
        ));
    }
    if !annotations.is_empty() {
        let items: Vec<String> = annotations
            .iter()
            .map(|(k, v)| format!("{}:{}", go_json_string(k), go_json_string(v)))
            .collect();
        out.push_str(&format!(
            ",\"serviceAccountAnnotations\":{{{}}}",
            items.join(",")
        ));
    }
    out.push_str("}\n");
    out
}

/// What one run sends: the image, and in service-account mode the token and annotations.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The image (normalized repository).
    pub image: &'a str,
    /// The service-account token (empty: none).
    pub token: &'a str,
    /// The ServiceAccount's annotations the config names.
    pub annotations: &'a BTreeMap<String, String>,
}

/// Run the plugin and decode its response.
#[allow(clippy::too_many_arguments)]
pub fn exec_plugin(
    name: &str,
    bin_dir: &Path,
    api_version: &str,
    args: &[String],
    env: &[(String, String)],
    request: Request<'_>,
    timeout: Duration,
) -> Result<Response, PluginError> {
    let image = request.image;
    let fail = |reason: String, stderr: &str| PluginError {
        provider: name.to_string(),
        message: format!(
            "error execing credential provider plugin {name} for image {image}: {reason}: {stderr}"
        ),
    };
    let mut cmd = Command::new(bin_dir.join(name));
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    #[cfg(unix)]
    {
        // Own process group, so a timeout kills the plugin and anything it started.
        use std::os::unix::process::CommandExt as _;
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().map_err(|e| fail(e.to_string(), ""))?;
    let request = encode_request(api_version, image, request.token, request.annotations);
    let mut stdin = child.stdin.take();
    let writer = std::thread::spawn(move || {
        if let Some(mut s) = stdin.take() {
            let _ = s.write_all(request.as_bytes());
        }
    });
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_end(&mut buf);
        }
        buf
    });
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                kill_group(&child);
                let _ = child.kill();
                let _ = child.wait();
                timed_out = true;
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(fail(e.to_string(), "")),
        }
    };
    let _ = writer.join();
    // A killed plugin's children may hold the pipes open; the readers end when they exit.
    let stdout = out_reader.join().unwrap_or_default();
    let stderr_bytes = err_reader.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr_bytes).into_owned();
    if timed_out {
        return Err(fail("context deadline exceeded".into(), &stderr));
    }
    if let Some(status) = status.filter(|s| !s.success()) {
        {
            let reason = match status.code() {
                Some(c) => format!("exit status {c}"),
                None => "signal: killed".to_string(),
            };
            return Err(fail(reason, &stderr));
        }
    }
    decode_response(name, api_version, &stdout)
}

#[cfg(unix)]
fn kill_group(child: &std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for the
        // child (process_group(0) above); it touches no memory of ours.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

#[cfg(not(unix))]
fn kill_group(_child: &std::process::Child) {}

/// Check the response's apiVersion and decode it (plugin.go `ExecPlugin` + `decodeResponse`).
pub fn decode_response(
    name: &str,
    api_version: &str,
    data: &[u8],
) -> Result<Response, PluginError> {
    let err = |message: String| PluginError {
        provider: name.to_string(),
        message,
    };
    let value: Value = serde_json::from_slice(data).map_err(|e| {
        err(format!(
            "error reading GVK from response: {}",
            crate::manifest::json_error_text(&e)
        ))
    })?;
    let obj = value.as_object();
    let got_version = obj
        .and_then(|o| o.get("apiVersion"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if got_version != api_version {
        return Err(err(format!(
            "apiVersion from credential plugin response did not match expected apiVersion:{api_version}, actual apiVersion:{got_version}"
        )));
    }
    let decoding =
        || err("error decoding credential provider plugin response from stdout".to_string());
    let obj = obj.ok_or_else(decoding)?;
    if obj.get("kind").and_then(Value::as_str) != Some("CredentialProviderResponse") {
        return Err(decoding());
    }
    let mut resp = Response {
        cache_key_type: String::new(),
        cache_duration: None,
        auth: Vec::new(),
    };
    for (k, v) in obj {
        match k.as_str() {
            "kind" | "apiVersion" => {}
            "cacheKeyType" => resp.cache_key_type = v.as_str().ok_or_else(decoding)?.to_string(),
            "cacheDuration" => match v {
                Value::Null => {}
                Value::String(s) => {
                    resp.cache_duration = Some(parse_go_duration(s).map_err(|_| decoding())?.into())
                }
                _ => return Err(decoding()),
            },
            "auth" => match v {
                Value::Null => {}
                Value::Object(map) => {
                    for (pattern, entry) in map {
                        let Value::Object(e) = entry else {
                            return Err(decoding());
                        };
                        let mut user = String::new();
                        let mut pass = String::new();
                        for (ek, ev) in e {
                            match (ek.as_str(), ev) {
                                ("username", Value::String(s)) => user = s.clone(),
                                ("password", Value::String(s)) => pass = s.clone(),
                                ("username" | "password", Value::Null) => {}
                                _ => return Err(decoding()),
                            }
                        }
                        resp.auth
                            .push((pattern.clone(), user, crate::Secret::new(pass)));
                    }
                }
                _ => return Err(decoding()),
            },
            _ => return Err(decoding()),
        }
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_is_versioned_json() {
        assert_eq!(
            encode_request(
                "credentialprovider.kubelet.k8s.io/v1",
                "r.io/a",
                "",
                &BTreeMap::new()
            ),
            "{\"kind\":\"CredentialProviderRequest\",\"apiVersion\":\"credentialprovider.kubelet.k8s.io/v1\",\"image\":\"r.io/a\"}\n"
        );
    }

    // pkg/credentialprovider/plugin/plugin.go ExecPlugin: the apiVersion check's exact text.
    #[test]
    fn api_version_mismatch_text() {
        let data = br#"{"kind":"CredentialProviderResponse","apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1","cacheKeyType":"Image"}"#;
        let e = decode_response("p", "credentialprovider.kubelet.k8s.io/v1", data).unwrap_err();
        assert_eq!(
            e.message,
            "apiVersion from credential plugin response did not match expected apiVersion:credentialprovider.kubelet.k8s.io/v1, actual apiVersion:credentialprovider.kubelet.k8s.io/v1alpha1"
        );
    }

    #[test]
    fn undecodable_response_hides_content() {
        let data = br#"{"kind":"CredentialProviderResponse","apiVersion":"v","auth":{"r.io":{"password":"TOPSECRET","extra":1}}}"#;
        let e = decode_response("p", "v", data).unwrap_err();
        assert_eq!(
            e.message,
            "error decoding credential provider plugin response from stdout"
        );
        assert!(!e.to_string().contains("TOPSECRET"));
    }
}
