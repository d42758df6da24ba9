//! `pullsim images ...`: the node's image store (list, inspect, remove, pin, GC, verify, disk
//! usage, load and save).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use pullsim_store::{LoadOptions, Store};

use super::images_list::{LsArgs, RefsArgs};
use crate::flags::{Format, OutputArgs};
use crate::node::open_store;

/// `pullsim images`.
#[derive(Args, Debug)]
#[command(after_long_help = IMAGES_HELP)]
pub struct ImagesArgs {
    #[command(subcommand)]
    cmd: ImagesCmd,
}

#[derive(Subcommand, Debug)]
enum ImagesCmd {
    /// List images: normalized and as-written names, image ID, size, age, origin, pinned.
    #[command(alias = "list", after_long_help = LS_HELP)]
    Ls(LsArgs),
    /// Show everything the store knows about images (record, blobs, pull record).
    #[command(after_long_help = INSPECT_HELP)]
    Inspect(RefsArgs),
    /// Remove images (by reference or image ID) and the blobs no other image uses.
    #[command(alias = "rmi", after_long_help = RM_HELP)]
    Rm(RefsArgs),
    /// Pin images: image GC never removes them.
    #[command(after_long_help = PIN_HELP)]
    Pin(RefsArgs),
    /// Unpin images.
    #[command(after_long_help = PIN_HELP)]
    Unpin(RefsArgs),
    /// Image GC as the kubelet's image GC manager, on a simulated image filesystem.
    #[command(after_long_help = GC_HELP)]
    Gc(super::images_gc::GcArgs),
    /// Re-hash every blob and check the index against the blobs (exit 1 on problems).
    #[command(after_long_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Disk usage of the store.
    #[command(after_long_help = DU_HELP)]
    Du(OutputArgs),
    /// Import an OCI image layout (directory or tar) or a docker-archive tar as preloaded images.
    #[command(after_long_help = LOAD_HELP)]
    Load(LoadArgs),
    /// Write images as an OCI image layout tar (oci-archive).
    #[command(after_long_help = SAVE_HELP)]
    Save(SaveArgs),
}

const IMAGES_HELP: &str = "\
The store lives in --root (default: $PULLSIM_ROOT, else $XDG_DATA_HOME/pullsim, else
~/.local/share/pullsim). It is an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>)
plus ingest/ (writes in progress or interrupted; the next write of the same blob resumes them)
and pullsim.redb (the index). Several pullsim processes may use one root at the same time.

Images are named by reference, normalized as the kubelet and containerd do (nginx,
library/nginx and docker.io/library/nginx:latest are one image; nginx@sha256:... by digest),
or by image ID (the config digest, in full or as a unique prefix such as 65b11943abc1).

Examples:
  pullsim images load --name myapp ./oci-layout    Preload an OCI layout (or a docker save tar)
  pullsim images ls                                What is on the node
  pullsim images gc --capacity 10G --dry-run       What the kubelet's image GC would delete
  pullsim images verify                            Re-hash every blob; --repair fixes the index

Exit status: 0 on success; 1 when verify finds problems; 2 on a usage error, an image that is
not there, unreadable input or a damaged store.";

const LS_HELP: &str = "\
Columns: IMAGE is the normalized name, WRITTEN AS the name as it was loaded or pulled, IMAGE ID
the first 12 hex digits of the config digest, SIZE the sum of the image's blobs, AGE since it
was first seen, ORIGIN preloaded (images load) or pulled. JSON output has one object per image
with full digests and times in Unix milliseconds.

Examples:
  pullsim images ls
  pullsim images ls nginx                 Only docker.io/library/nginx, every tag
  pullsim images ls nginx:1.27 -o json
  pullsim images ls -q                    Image IDs only";

const INSPECT_HELP: &str = "\
Examples:
  pullsim images inspect nginx:1.27
  pullsim images inspect 65b11943abc1 -o json    By image ID prefix: every name of that image";

const RM_HELP: &str = "\
Removing an image ID removes every name of it. Blobs shared with other images stay.

Examples:
  pullsim images rm nginx:1.27
  pullsim images rm 65b11943abc1";

const PIN_HELP: &str = "\
Pinned images are what the kubelet's pinned images are (the CRI's pinned flag, e.g. the sandbox
image): image GC skips them whatever their age or the disk usage.

Examples:
  pullsim images pin registry.k8s.io/pause:3.10
  pullsim images unpin registry.k8s.io/pause:3.10";

const GC_HELP: &str = "\
As the kubelet's image GC manager: when the usage (bytes of all blobs / --capacity) is at or
above --high, it deletes images until usage is down to --low, least recently used first (ties:
first seen earlier), skipping pinned images, --in-use images and images first seen less than
--min-age ago. With --max-age, images unused for longer are deleted first, whatever the usage.
Blobs no image references (older than --orphan-grace) are deleted before the usage is measured;
a deleted image's blobs go with it unless another image uses them. When not enough can be
freed, the kubelet's FreeDiskSpaceFailed warning goes to stderr (exit status still 0).

Examples:
  pullsim images gc --capacity 10G --dry-run
  pullsim images gc --capacity 2G --high 70 --low 50 --min-age 0 --in-use nginx:1.27
  pullsim images gc --capacity 10G --max-age 24h";

const VERIFY_HELP: &str = "\
Checks: every blob's bytes hash to its name; every image's manifest, config and layers are
present; reference counts and index.json match the images. Interrupted ingests are reported
(they are resumed by the next write of the same blob, or deleted by --repair).

Examples:
  pullsim images verify
  pullsim images verify --repair -o json

Exit status: 0 when the store is clean (or was repaired); 1 when problems remain.";

const DU_HELP: &str = "\
Examples:
  pullsim images du
  pullsim images du -o json";

const LOAD_HELP: &str = "\
Every blob is verified (size and sha256) before anything is recorded; a failed load names the
blob and the file and stores nothing. Blobs already in the store are not written again. An
interrupted load leaves only ingest/ files, which the next load resumes.

Examples:
  pullsim images load ./layout --name myapp    OCI layout directory (skopeo ... oci:./layout:v1)
  pullsim images load app.tar                  docker save (or skopeo ... docker-archive:app.tar)
  pullsim images load app.tar.gz               docker save app | gzip > app.tar.gz
  pullsim images load app-oci.tar              skopeo ... oci-archive:app-oci.tar, images save";

const SAVE_HELP: &str = "\
The archive is an OCI image layout tar (oci-archive) with each image's normalized name as
org.opencontainers.image.ref.name; digests are unchanged, so `skopeo copy oci-archive:FILE:NAME`
and `pullsim images load FILE` read it back as it was.

Examples:
  pullsim images save nginx:1.27 -o nginx.tar
  pullsim images save nginx:1.27 registry.k8s.io/pause:3.10 -o node-preload.tar";

#[derive(Args, Debug)]
struct VerifyArgs {
    /// Drop index entries whose blobs are missing, delete corrupt blobs and stale ingests,
    /// rebuild reference counts and index.json.
    #[arg(long)]
    repair: bool,
    #[command(flatten)]
    format: OutputArgs,
}

#[derive(Args, Debug)]
struct LoadArgs {
    /// OCI layout directory, OCI layout tar, or docker-archive tar (optionally gzip-compressed).
    #[arg(value_name = "FILE|DIR")]
    input: PathBuf,
    /// Repository for images named only by a tag (`oci:DIR:TAG` layouts) or not at all.
    #[arg(long, value_name = "REPOSITORY")]
    name: Option<String>,
    #[command(flatten)]
    format: OutputArgs,
}

#[derive(Args, Debug)]
struct SaveArgs {
    /// Images to save (references or image IDs).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<String>,
    /// The tar file to write.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: PathBuf,
    /// Format of the summary line.
    #[arg(long = "format", value_enum, default_value_t)]
    format: Format,
}

/// Run `pullsim images ...` against the store at `root` (`--root`, env PULLSIM_ROOT).
pub fn run(args: ImagesArgs, root: Option<&Path>) -> anyhow::Result<ExitCode> {
    let store = Arc::new(open_store(root)?);
    dispatch(&store, args)
}

fn dispatch(store: &Arc<Store>, args: ImagesArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        ImagesCmd::Ls(a) => super::images_list::ls(store, a),
        ImagesCmd::Inspect(a) => super::images_list::inspect(store, a),
        ImagesCmd::Rm(a) => super::images_list::rm(store, a),
        ImagesCmd::Pin(a) => super::images_list::pin(store, a, true),
        ImagesCmd::Unpin(a) => super::images_list::pin(store, a, false),
        ImagesCmd::Gc(a) => super::images_gc::run(store.clone(), a),
        ImagesCmd::Verify(a) => super::images_io::verify(store, a.repair, a.format.output),
        ImagesCmd::Du(a) => super::images_io::du(store, a.output),
        ImagesCmd::Load(a) => super::images_io::load(
            store,
            &a.input,
            &LoadOptions {
                name: a.name,
                now_ms: 0,
            },
            a.format.output,
        ),
        ImagesCmd::Save(a) => {
            let recs = super::images_list::resolve_all(store, &a.images)?;
            super::images_io::save(store, &recs, &a.output, a.format)
        }
    }
}
