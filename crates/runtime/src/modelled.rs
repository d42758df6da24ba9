//! containerd's CRI wording for registry answers that were not received over HTTP but produced
//! by a model (`pullsim simulate`'s registries): the same typed registry error
//! (`pullsim_registry::status_error_for`, worded as containerd 2.x's transfer-service resolver,
//! the CRI default) wrapped the way the runtime wraps a real one
//! (`failed to pull and unpack image "REF": …`).

use pullsim_registry::{Resolver, Stage};

use crate::error::RuntimeError;
use crate::remote::pull_error;

/// An HTTP error answer from a modelled registry.
#[derive(Clone, Copy, Debug)]
pub struct StatusAnswer<'a> {
    /// The status (429, 503, …).
    pub status: u16,
    /// `HEAD` or `GET`.
    pub method: &'a str,
    /// The request URL (`https://registry-1.docker.io/v2/library/busybox/manifests/sha256:…`).
    pub url: &'a str,
    /// The answer's body (the registry's error envelope, or empty).
    pub body: &'a [u8],
    /// The request was a fetch by digest (`failed to copy: …`), not the resolve of the
    /// reference.
    pub fetch: bool,
}

/// The `PullImage` error for `image` (as the kubelet sent it; `reference` normalized) when a
/// registry answered `answer`; `host` is the endpoint that answered (`https://…/v2`).
pub fn status_pull_error(
    image: &str,
    reference: &str,
    answer: StatusAnswer<'_>,
    host: Option<String>,
) -> RuntimeError {
    let stage = if answer.fetch {
        Stage::Fetch
    } else {
        Stage::Resolve
    };
    let err = pullsim_registry::status_error_for(
        answer.status,
        answer.method,
        answer.url,
        answer.body,
        reference,
        (stage, Resolver::default()),
    );
    pull_error(image, reference, err, host)
}

/// The host that serves a reference's domain (`docker.io` → `registry-1.docker.io`).
pub fn registry_endpoint(domain: &str) -> &str {
    pullsim_registry::transport::registry_host(domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_429_on_the_manifest_get_reads_as_containerd_2() {
        // core/remotes/docker/fetcher.go@v2.3.4 (open → unexpectedResponseErr, errcode.go):
        // `unexpected status from GET request to URL: 429 Too Many Requests` joined with the
        // decoded registry error; wrapped by internal/cri/server/images/image_pull.go.
        let body = br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"}]}"#;
        let url = "https://registry-1.docker.io/v2/library/busybox/manifests/sha256:50aa";
        let e = status_pull_error(
            "busybox:latest",
            "docker.io/library/busybox:latest",
            StatusAnswer {
                status: 429,
                method: "GET",
                url,
                body,
                fetch: true,
            },
            Some("https://registry-1.docker.io/v2".into()),
        );
        assert_eq!(
            e.to_string(),
            format!(
                "rpc error: code = Unknown desc = failed to pull and unpack image \"docker.io/library/busybox:latest\": failed to copy: httpReadSeeker: failed open: unexpected status from GET request to {url}: 429 Too Many Requests\ntoomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit"
            )
        );
        assert_eq!(e.host(), Some("https://registry-1.docker.io/v2"));
        assert_eq!(registry_endpoint("docker.io"), "registry-1.docker.io");
        assert_eq!(registry_endpoint("ghcr.io"), "ghcr.io");
    }
}
