//! The files of a private containerd: its config (the CRI plugin disabled unless asked for) and
//! the shell that supervises it (stops it and removes its directory when the handle goes).

/// containerd's config; `@DIR@`, `@CRI@` (the CRI plugin in `disabled_plugins`) and
/// `@CRI_CONFIG@` are filled in by [`crate::containerd::ContainerdHandle`].
pub(crate) const CONFIG: &str = r#"version = 2
root = "@DIR@/root"
state = "@DIR@/state"
disabled_plugins = [@CRI@
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.overlayfs",
]

[grpc]
  address = "@DIR@/containerd.sock"

[ttrpc]
  address = "@DIR@/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.metadata.v1.bolt"]
  content_sharing_policy = "isolated"
@CRI_CONFIG@"#;

/// The CRI plugin's settings when it runs: no TCP, the native snapshotter, CNI dirs of its own
/// (it starts without a network config, logging that pods cannot be networked).
pub(crate) const CRI_CONFIG: &str = r#"
[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "@DIR@/cni-bin"
    conf_dir = "@DIR@/cni-conf"
"#;

pub(crate) const SUPERVISOR: &str = r#""$1" --config "$2" </dev/null >>"$3" 2>&1 &
p=$!
echo "$p"
read _ignored
kill "$p" 2>/dev/null
wait "$p"
rm -rf "$4"
"#;
