//! The node's real container runtime over its CRI socket: `runtime.v1.ImageService/ListImages`
//! as the kubelet calls it (cri-api `pkg/apis/runtime/v1/api.proto`), a unary gRPC call over
//! HTTP/2 on the Unix socket (containerd's `/run/containerd/containerd.sock`, CRI-O's
//! `/var/run/crio/crio.sock`). The request is empty; the answer's images are decoded from
//! protobuf by hand (the fields of `Image` the kubelet reads), so no protobuf toolchain is needed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;

use crate::cri::Image;

/// The gRPC path of ListImages in CRI v1.
pub const LIST_IMAGES: &str = "/runtime.v1.ImageService/ListImages";

/// The largest answer read (a node with tens of thousands of images fits easily).
pub const MAX_RESPONSE: usize = 64 << 20;

/// How long the whole call may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Why the runtime's images could not be listed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum CriSocketError {
    /// Nothing listens there (or it is not a socket we may open).
    #[error("cannot connect to the CRI socket {}: {source}", socket.display())]
    Connect {
        /// The socket.
        socket: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The HTTP/2 exchange failed.
    #[error("CRI socket {}: HTTP/2: {message}", socket.display())]
    Transport {
        /// The socket.
        socket: PathBuf,
        /// What failed.
        message: String,
    },
    /// The runtime answered with a gRPC error (`Unimplemented`: it has no CRI v1 image service).
    #[error("CRI socket {}: {method}: rpc error: code = {code} desc = {message}", socket.display())]
    Status {
        /// The socket.
        socket: PathBuf,
        /// The method.
        method: &'static str,
        /// The gRPC code's name.
        code: &'static str,
        /// `grpc-message`.
        message: String,
    },
    /// The answer is not a ListImagesResponse.
    #[error("CRI socket {}: the ListImages answer is malformed: {message}", socket.display())]
    Malformed {
        /// The socket.
        socket: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No answer in time.
    #[error("CRI socket {}: no answer within {TIMEOUT:?}", socket.display())]
    Timeout {
        /// The socket.
        socket: PathBuf,
    },
}

/// gRPC status code names (grpc/codes).
fn code_name(code: u32) -> &'static str {
    match code {
        0 => "OK",
        1 => "Canceled",
        2 => "Unknown",
        3 => "InvalidArgument",
        4 => "DeadlineExceeded",
        5 => "NotFound",
        6 => "AlreadyExists",
        7 => "PermissionDenied",
        8 => "ResourceExhausted",
        9 => "FailedPrecondition",
        10 => "Aborted",
        11 => "OutOfRange",
        12 => "Unimplemented",
        13 => "Internal",
        14 => "Unavailable",
        15 => "DataLoss",
        16 => "Unauthenticated",
        _ => "Unknown",
    }
}

/// The images the runtime has (`crictl images` asks the same).
pub async fn list_images(socket: &Path) -> Result<Vec<Image>, CriSocketError> {
    match tokio::time::timeout(TIMEOUT, call(socket, LIST_IMAGES, Bytes::new())).await {
        Ok(Ok(body)) => decode_list_images(&body).map_err(|message| CriSocketError::Malformed {
            socket: socket.to_path_buf(),
            message,
        }),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(CriSocketError::Timeout {
            socket: socket.to_path_buf(),
        }),
    }
}

/// One unary gRPC call; the response message's bytes.
async fn call(
    socket: &Path,
    method: &'static str,
    message: Bytes,
) -> Result<Vec<u8>, CriSocketError> {
    let transport = |e: &dyn std::fmt::Display| CriSocketError::Transport {
        socket: socket.to_path_buf(),
        message: e.to_string(),
    };
    let io = tokio::net::UnixStream::connect(socket)
        .await
        .map_err(|source| CriSocketError::Connect {
            socket: socket.to_path_buf(),
            source,
        })?;
    let (client, connection) = h2::client::handshake(io).await.map_err(|e| transport(&e))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let result = async {
        let mut client = client.ready().await.map_err(|e| transport(&e))?;
        let request = http::Request::builder()
            .method("POST")
            .uri(format!("http://localhost{method}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .map_err(|e| transport(&e))?;
        let (response, mut send) = client
            .send_request(request, false)
            .map_err(|e| transport(&e))?;
        // Length-prefixed message: no compression, 4-byte big-endian length.
        let len = u32::try_from(message.len()).map_err(|e| transport(&e))?;
        let mut frame = Vec::with_capacity(5 + message.len());
        frame.push(0);
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(&message);
        send.send_data(Bytes::from(frame), true)
            .map_err(|e| transport(&e))?;
        let response = response.await.map_err(|e| transport(&e))?;
        let status = |headers: &http::HeaderMap| -> Option<(u32, String)> {
            let code = headers.get("grpc-status")?.to_str().ok()?.parse().ok()?;
            let msg = headers
                .get("grpc-message")
                .and_then(|m| m.to_str().ok())
                .map(percent_decode)
                .unwrap_or_default();
            Some((code, msg))
        };
        let fail = |(code, message): (u32, String)| CriSocketError::Status {
            socket: socket.to_path_buf(),
            method,
            code: code_name(code),
            message,
        };
        // Trailers-only answer: the status is in the headers.
        if let Some(s) = status(response.headers())
            && s.0 != 0
        {
            return Err(fail(s));
        }
        let mut body = response.into_body();
        let mut data: Vec<u8> = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(|e| transport(&e))?;
            let _ = body.flow_control().release_capacity(chunk.len());
            if data.len() + chunk.len() > MAX_RESPONSE + 5 {
                return Err(CriSocketError::Malformed {
                    socket: socket.to_path_buf(),
                    message: format!("larger than {MAX_RESPONSE} bytes"),
                });
            }
            data.extend_from_slice(&chunk);
        }
        if let Some(trailers) = body.trailers().await.map_err(|e| transport(&e))?
            && let Some(s) = status(&trailers)
            && s.0 != 0
        {
            return Err(fail(s));
        }
        unframe(&data).map_err(|message| CriSocketError::Malformed {
            socket: socket.to_path_buf(),
            message,
        })
    }
    .await;
    driver.abort();
    result
}

/// `grpc-message` is percent-encoded (gRPC over HTTP/2 spec).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The one message of a unary answer.
fn unframe(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.len() < 5 {
        return Err(format!("{} bytes, shorter than a gRPC frame", data.len()));
    }
    if data[0] != 0 {
        return Err("a compressed message (none was asked for)".into());
    }
    let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
    let body = &data[5..];
    if body.len() < len {
        return Err(format!("the message says {len} bytes, {} came", body.len()));
    }
    Ok(body[..len].to_vec())
}

/// containerd CRI's `localResolve` over a listed image set: an image ID as is, else the
/// reference through `ParseDockerRef` (normalized, `latest` added, the tag dropped beside a
/// digest) looked up among the images' names (internal/cri/server/images/helpers.go).
pub fn image_ref(images: &[Image], image: &str) -> Option<String> {
    if let Some(img) = images.iter().find(|i| i.id == image) {
        return Some(img.id.clone());
    }
    let r = pullsim_reference::Reference::parse_docker_ref(image).ok()?;
    let full = r.as_str();
    images
        .iter()
        .find(|i| i.repo_tags.iter().any(|t| t == full) || i.repo_digests.iter().any(|d| d == full))
        .map(|i| i.id.clone())
}

/// Protobuf wire reading: (field number, wire type, value).
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

fn varint(b: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut out: u64 = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos).ok_or("a truncated varint")?;
        *pos += 1;
        out |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err("a varint longer than 10 bytes".into())
}

fn fields(b: &[u8]) -> Result<Vec<(u64, Value<'_>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < b.len() {
        let key = varint(b, &mut pos)?;
        let (field, wire) = (key >> 3, key & 7);
        let v = match wire {
            0 => Value::Varint(varint(b, &mut pos)?),
            1 => {
                pos += 8;
                Value::Other
            }
            2 => {
                let len = usize::try_from(varint(b, &mut pos)?).map_err(|e| e.to_string())?;
                let end = pos.checked_add(len).filter(|e| *e <= b.len());
                let end = end.ok_or("a length past the end")?;
                let v = Value::Bytes(&b[pos..end]);
                pos = end;
                v
            }
            5 => {
                pos += 4;
                Value::Other
            }
            w => return Err(format!("wire type {w} in field {field}")),
        };
        if pos > b.len() {
            return Err("a fixed-size field past the end".into());
        }
        out.push((field, v));
    }
    Ok(out)
}

fn text(v: &[u8]) -> Result<String, String> {
    String::from_utf8(v.to_vec()).map_err(|_| "a string field that is not UTF-8".to_string())
}

/// `ListImagesResponse { repeated Image images = 1; }`, `Image { string id = 1; repeated
/// string repo_tags = 2; repeated string repo_digests = 3; uint64 size = 4; ...; bool pinned
/// = 8; }`.
pub fn decode_list_images(b: &[u8]) -> Result<Vec<Image>, String> {
    let mut images = Vec::new();
    for (field, v) in fields(b)? {
        let (1, Value::Bytes(m)) = (field, v) else {
            continue;
        };
        let mut img = Image::default();
        for (f, v) in fields(m)? {
            match (f, v) {
                (1, Value::Bytes(s)) => img.id = text(s)?,
                (2, Value::Bytes(s)) => img.repo_tags.push(text(s)?),
                (3, Value::Bytes(s)) => img.repo_digests.push(text(s)?),
                (4, Value::Varint(n)) => img.size = n,
                (8, Value::Varint(n)) => img.pinned = n != 0,
                _ => {}
            }
        }
        images.push(img);
    }
    Ok(images)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes_field(field: u8, v: &[u8]) -> Vec<u8> {
        let mut out = vec![(field << 3) | 2, u8::try_from(v.len()).unwrap()];
        out.extend_from_slice(v);
        out
    }

    #[test]
    fn decodes_images_and_skips_unknown_fields() {
        let mut img = bytes_field(1, b"sha256:abc");
        img.extend(bytes_field(2, b"docker.io/library/busybox:1.36"));
        img.extend(bytes_field(3, b"docker.io/library/busybox@sha256:def"));
        img.extend([4 << 3, 0xac, 0x02]); // size 300
        img.extend(bytes_field(7, b"\x0a\x03abc")); // spec: skipped
        img.extend([8 << 3, 1]); // pinned
        let msg = bytes_field(1, &img);
        let got = decode_list_images(&msg).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].id, "sha256:abc");
        assert_eq!(got[0].repo_tags, ["docker.io/library/busybox:1.36"]);
        assert_eq!(
            got[0].repo_digests,
            ["docker.io/library/busybox@sha256:def"]
        );
        assert_eq!(got[0].size, 300);
        assert!(got[0].pinned);
        assert!(
            decode_list_images(&[0x0a, 0x05, 0x01]).is_err(),
            "truncated"
        );
        assert!(decode_list_images(&[0x0f]).is_err(), "wire type 7");
        assert_eq!(unframe(&[0, 0, 0, 0, 2, 9, 9, 7]).unwrap(), vec![9, 9]);
        assert!(unframe(&[1, 0, 0, 0, 0]).is_err());
        assert_eq!(percent_decode("a%20b%ZZ"), "a b%ZZ");
        // localResolve: by ID, by normalized tag (latest added), by digest (tag dropped).
        let listed = vec![Image {
            id: "sha256:1111".into(),
            repo_tags: vec!["docker.io/library/busybox:latest".into()],
            repo_digests: vec![format!(
                "docker.io/library/busybox@sha256:{}",
                "a".repeat(64)
            )],
            ..Image::default()
        }];
        assert_eq!(
            image_ref(&listed, "busybox").as_deref(),
            Some("sha256:1111")
        );
        assert_eq!(
            image_ref(&listed, "sha256:1111").as_deref(),
            Some("sha256:1111")
        );
        let by_digest = format!("busybox:1.0@sha256:{}", "a".repeat(64));
        assert_eq!(
            image_ref(&listed, &by_digest).as_deref(),
            Some("sha256:1111")
        );
        assert_eq!(image_ref(&listed, "busybox:1.0"), None);
    }
}
