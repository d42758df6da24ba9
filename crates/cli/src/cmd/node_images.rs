//! `node check`: the images already on the node, listed by its container runtime over the CRI
//! socket (`runtime.v1.ImageService/ListImages`), and what the kubelet then decides for each
//! container of the manifests — its pull policy, the image present or not, and for a present
//! image the KEP-2535 verification against the node's own pull records.

use std::path::{Path, PathBuf};

use pullsim_node::decision::decide_image_by;
use pullsim_node::kubelet_config::KubeletConfig;
use pullsim_node::on_host::{FlagSource, KubeletOnHost};
use pullsim_node::pull_manager::PullManager;
use pullsim_node::records::{DryRunRecords, PullRecordsAccessor};
use pullsim_node::sync::PodRun;
use pullsim_runtime::RuntimeKind;
use pullsim_runtime::cri::Image;
use pullsim_runtime::cri_socket;

use pullsim_runtime::on_host as host_path;

/// The runtimes' own socket paths (containerd's default; CRI-O's).
pub const CONTAINERD_SOCKET: &str = "/run/containerd/containerd.sock";
/// CRI-O's socket.
pub const CRIO_SOCKET: &str = "/var/run/crio/crio.sock";
/// k3s's embedded containerd (docs.k3s.io, "Advanced Options": `/run/k3s/containerd/containerd.sock`).
pub const K3S_SOCKET: &str = "/run/k3s/containerd/containerd.sock";

/// What the node's runtime said about its images.
pub struct OnNode {
    /// The socket as the node names it.
    pub socket: PathBuf,
    /// The images, or why they could not be listed.
    pub listed: Result<Vec<Image>, String>,
}

/// The CRI socket: `--cri-socket`, else the kubelet's `--container-runtime-endpoint`, else the
/// runtime's default (k3s's own on a k3s node).
pub fn socket_for(flag: Option<&Path>, kubelet: &KubeletOnHost, kind: RuntimeKind) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(e) = &kubelet.runtime_endpoint {
        return PathBuf::from(e.strip_prefix("unix://").unwrap_or(e));
    }
    let k3s = matches!(kubelet.source, FlagSource::WellKnown { layout: "k3s" });
    PathBuf::from(if k3s && kind.is_containerd() {
        K3S_SOCKET
    } else if kind.is_containerd() {
        CONTAINERD_SOCKET
    } else {
        CRIO_SOCKET
    })
}

/// List the node's images (the socket read under `--host-root`).
pub fn list(rt: &tokio::runtime::Runtime, host_root: Option<&Path>, socket: PathBuf) -> OnNode {
    let on_host = host_path(host_root, &socket);
    let listed = rt
        .block_on(cri_socket::list_images(&on_host))
        .map_err(|e| e.to_string());
    OnNode { socket, listed }
}

/// One container's image on this node.
#[derive(Default)]
pub struct Local {
    /// The image ID when the node has the image.
    pub present: Option<String>,
    /// The kubelet's decision: `pull`, `use-local` or `error` (Never and absent); `None` when
    /// the images could not be listed.
    pub decision: Option<&'static str>,
    /// The KEP-2535 verification of a present image, in words.
    pub verification: Option<String>,
}

/// The decision step for image `index` of `pod` against the node's images and records.
pub fn local<R: PullRecordsAccessor>(
    on_node: &OnNode,
    pulls: &PullManager<DryRunRecords<R>>,
    kubelet: &KubeletConfig,
    pod: &PodRun,
    index: usize,
) -> Local {
    let Ok(images) = &on_node.listed else {
        return Local::default();
    };
    let img = &pod.spec.images[index];
    let lookup = |tagged: &str| Ok(cri_socket::image_ref(images, tagged));
    match decide_image_by(
        &lookup,
        pulls,
        kubelet.manager.ensure_secret_pulled_images,
        &img.image,
        pod.policies[index],
        pod.credentials.as_ref(),
        pullsim_policy::Time::ZERO,
    ) {
        Ok(d) => Local {
            // The image as the runtime names it, whatever the policy (Always does not look).
            present: d
                .image_ref
                .clone()
                .or_else(|| cri_socket::image_ref(images, &d.image)),
            decision: Some(d.decision.as_str()),
            verification: d.verification.as_ref().map(|v| {
                // The pod's credential labels name the secret a match was made with.
                let labels: Vec<String> = match v {
                    pullsim_node::Verification::SecretMatched { .. } => pod
                        .credentials
                        .lookup(&d.image)
                        .map(|c| c.iter().map(|t| t.label()).collect())
                        .unwrap_or_default(),
                    _ => Vec::new(),
                };
                pullsim_node::explain::verification_words(
                    v,
                    kubelet.manager.verification.policy,
                    &labels,
                )
            }),
        },
        // The decision step failed (an invalid name, unreadable records): presence only.
        Err(_) => Local {
            present: pullsim_node::shared::apply_default_image_tag(&img.image)
                .ok()
                .and_then(|t| cri_socket::image_ref(images, &t)),
            ..Local::default()
        },
    }
}
