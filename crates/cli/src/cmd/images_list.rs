//! `pullsim images ls|inspect|rm|pin|unpin`, and how an image argument names store records.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use pullsim_node::records::PullRecordsAccessor as _;
use pullsim_reference::Reference;
use pullsim_store::{ImageRecord, Store};
use serde_json::json;

use super::images_fmt::{human_duration, human_size, short_id};
use crate::flags::{Format, OutputArgs};
use crate::output::{self, Kind, outln};

#[derive(Args, Debug)]
pub(crate) struct LsArgs {
    /// Only this repository (normalized: `nginx` = `docker.io/library/nginx`), and this tag or
    /// digest when given, as `crictl images REPOSITORY[:TAG]`.
    #[arg(value_name = "IMAGE")]
    pub(crate) filter: Option<String>,
    /// Print image IDs only.
    #[arg(short, long)]
    pub(crate) quiet: bool,
    #[command(flatten)]
    pub(crate) format: OutputArgs,
}

#[derive(Args, Debug)]
pub(crate) struct RefsArgs {
    /// Image references (tag or digest, normalized) or image IDs (full or a unique prefix).
    #[arg(required = true, value_name = "IMAGE")]
    pub(crate) images: Vec<String>,
    #[command(flatten)]
    pub(crate) format: OutputArgs,
}

/// Every record named by `arg`: a reference (one record) or an image ID (all its names).
pub(crate) fn resolve(store: &Store, arg: &str) -> anyhow::Result<Vec<ImageRecord>> {
    if let Ok(r) = Reference::parse_normalized(arg)
        && let Some(rec) = store.lookup(&r)?
    {
        return Ok(vec![rec]);
    }
    let recs = store.records_by_id(arg)?;
    if recs.is_empty() {
        bail!("{}", not_found(store, arg)?);
    }
    Ok(recs)
}

/// "no such image" naming what `arg` normalizes to and, when the repository is present under
/// other tags or digests, those (`nginx` means `nginx:latest`; the store may hold `nginx:1.27`).
fn not_found(store: &Store, arg: &str) -> anyhow::Result<String> {
    let root = store.root().display();
    let Ok(r) = Reference::parse_normalized(arg) else {
        return Ok(format!(
            "no such image {arg:?} in {root} (neither a known image ID nor a valid reference)"
        ));
    };
    let r = r.with_default_tag();
    let mut msg = format!("no such image {arg:?} ({r}) in {root}");
    let name = r.name();
    let others: Vec<String> = store
        .list()?
        .into_iter()
        .filter(|rec| rec.name == name)
        .map(|rec| match (&rec.tag, &rec.digest) {
            (Some(t), _) => format!(":{t}"),
            (None, Some(d)) => format!("@{d}"),
            (None, None) => String::new(),
        })
        .collect();
    if !others.is_empty() {
        msg.push_str(&format!("; {name} is there as {}", others.join(", ")));
    }
    Ok(msg)
}

pub(crate) fn resolve_all(store: &Store, args: &[String]) -> anyhow::Result<Vec<ImageRecord>> {
    let mut out: BTreeMap<String, ImageRecord> = BTreeMap::new();
    for a in args {
        for r in resolve(store, a)? {
            out.insert(r.key(), r);
        }
    }
    Ok(out.into_values().collect())
}

/// Rows as kubectl prints them (text/tabwriter: min width 10, padding 3).
pub(crate) fn print_table(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let cols = header.len();
    let mut widths = vec![0usize; cols];
    for row in
        std::iter::once(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>()).chain(rows)
    {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |row: &[String]| -> anyhow::Result<()> {
        let mut s = String::new();
        for (i, c) in row.iter().enumerate() {
            if i + 1 == cols {
                s.push_str(c);
            } else {
                let w = (widths[i] + 3).max(10);
                s.push_str(&format!("{c:<w$}"));
            }
        }
        outln!("{}", s.trim_end());
        Ok(())
    };
    line(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    for r in rows {
        line(r)?;
    }
    Ok(())
}

pub(crate) fn record_json(r: &ImageRecord) -> serde_json::Value {
    json!({
        "name": r.key(),
        "repository": r.name,
        "tag": r.tag,
        "digest": r.digest.as_ref().map(|d| d.to_string()),
        "written_as": r.written_as,
        "id": r.id(),
        "manifest_digest": r.manifest_digest.to_string(),
        "media_type": r.media_type,
        "platform": r.platform,
        "size": r.size,
        "first_seen_ms": r.first_seen_ms,
        "last_used_ms": r.last_used_ms,
        "pinned": r.pinned,
        "origin": r.origin.as_str(),
        "labels": r.labels,
    })
}

pub(crate) fn ls(store: &Store, a: LsArgs) -> anyhow::Result<ExitCode> {
    let mut recs = store.list()?;
    if let Some(f) = &a.filter {
        let r = Reference::parse_normalized(f).with_context(|| format!("image filter {f:?}"))?;
        let name = r.name();
        recs.retain(|rec| {
            rec.name == name
                && r.tag().is_none_or(|t| rec.tag.as_deref() == Some(t))
                && r.digest()
                    .is_none_or(|d| rec.digest.as_ref() == Some(d) || rec.manifest_digest == *d)
        });
    }
    let now = pullsim_store::now_ms() as i64;
    if a.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &recs {
            if seen.insert(r.id()) {
                outln!("{}", r.id());
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    match a.format.output {
        Format::Json => {
            for r in &recs {
                output::json(Kind::Image, &record_json(r))?;
            }
        }
        Format::Text => {
            let rows: Vec<Vec<String>> = recs
                .iter()
                .map(|r| {
                    vec![
                        r.key(),
                        r.written_as.clone(),
                        short_id(&r.id()),
                        human_size(r.size),
                        human_duration(now - r.first_seen_ms as i64),
                        r.origin.to_string(),
                        if r.pinned { "true" } else { "false" }.to_string(),
                    ]
                })
                .collect();
            print_table(
                &[
                    "IMAGE",
                    "WRITTEN AS",
                    "IMAGE ID",
                    "SIZE",
                    "AGE",
                    "ORIGIN",
                    "PINNED",
                ],
                &rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn inspect(store: &Store, a: RefsArgs) -> anyhow::Result<ExitCode> {
    // The kubelet's KEP-2535 record of each image, read (never created) from its files.
    let kubelet = crate::node::kubelet_dir(store.root());
    let records = kubelet
        .is_dir()
        .then(|| pullsim_node::records::FsPullRecords::new(&kubelet))
        .transpose()?;
    for rec in resolve_all(store, &a.images)? {
        let mut v = record_json(&rec);
        v["blobs"] = json!(rec.blobs.iter().map(|d| d.to_string()).collect::<Vec<_>>());
        let pulled = match &records {
            Some(r) => r.get_image_pulled_record(&rec.id())?,
            None => None,
        };
        v["pulled_record"] = match pulled {
            Some(p) => snake_keys(
                serde_json::from_slice(&pullsim_node::records::encode_pulled_record(&p)?)?,
                false,
            ),
            None => serde_json::Value::Null,
        };
        match a.format.output {
            Format::Json => output::json(Kind::Image, &v)?,
            Format::Text => outln!("{}", serde_json::to_string_pretty(&v)?),
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn rm(store: &Store, a: RefsArgs) -> anyhow::Result<ExitCode> {
    let recs = resolve_all(store, &a.images)?;
    let keys: Vec<String> = recs.iter().map(ImageRecord::key).collect();
    let out = store.remove_images(&keys)?;
    match a.format.output {
        Format::Json => output::json(
            Kind::Removed,
            &json!({
                "deleted": out.removed,
                "blobs_deleted": out.blobs_deleted.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
                "bytes_freed": out.bytes_freed,
            }),
        )?,
        Format::Text => {
            for k in &out.removed {
                outln!("Deleted: {k}");
            }
            outln!(
                "Deleted {} blobs, freed {}",
                out.blobs_deleted.len(),
                human_size(out.bytes_freed)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn pin(store: &Store, a: RefsArgs, pinned: bool) -> anyhow::Result<ExitCode> {
    let recs = resolve_all(store, &a.images)?;
    for r in &recs {
        let key = r.key();
        store.set_pinned(&key, pinned)?;
        match a.format.output {
            Format::Json => output::json(Kind::Pin, &json!({"name": key, "pinned": pinned}))?,
            Format::Text => outln!("{}: {key}", if pinned { "Pinned" } else { "Unpinned" }),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The kubelet's pull record with snake_case keys (`imageRef` → `image_ref`); the keys of
/// `credentialMapping` are image names, data rather than field names, and stay as they are.
fn snake_keys(v: serde_json::Value, keys_are_data: bool) -> serde_json::Value {
    match v {
        serde_json::Value::Object(m) => serde_json::Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let data = !keys_are_data && k == "credentialMapping";
                    let k = if keys_are_data { k } else { snake(&k) };
                    (k, snake_keys(v, data))
                })
                .collect(),
        ),
        serde_json::Value::Array(a) => {
            serde_json::Value::Array(a.into_iter().map(|v| snake_keys(v, false)).collect())
        }
        other => other,
    }
}

/// `lastUpdatedTime` → `last_updated_time`.
fn snake(k: &str) -> String {
    let mut out = String::with_capacity(k.len() + 4);
    for c in k.chars() {
        if c.is_ascii_uppercase() {
            if !out.is_empty() {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_record_keys_become_snake_case_but_image_names_stay() {
        let v = json!({"imageRef": "sha256:1", "lastUpdatedTime": 1,
            "credentialMapping": {"docker.io/library/Nginx": {"nodePodsAccessible": true,
                "kubernetesSecrets": [{"credentialHash": "h", "uid": "u"}]}}});
        assert_eq!(
            snake_keys(v, false),
            json!({"image_ref": "sha256:1", "last_updated_time": 1,
                "credential_mapping": {"docker.io/library/Nginx": {"node_pods_accessible": true,
                    "kubernetes_secrets": [{"credential_hash": "h", "uid": "u"}]}}})
        );
    }
}
