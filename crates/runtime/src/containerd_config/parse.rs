//! config.toml to [`ContainerdConfig`]: where each key lives in each config version, and
//! containerd 2.x's migration of older files (`cmd/containerd/server/config/config.go@v2.3.4`
//! `MigrateConfigTo`, `v1Migrate`; `plugins/cri/images/plugin.go@v2.3.4` `migrateConfig`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pullsim_credentials::{AuthConfig, Secret};
use toml::{Table, Value};

use super::error::ContainerdConfigError;
use super::types::{ContainerdConfig, ContainerdGeneration, RegistryHostConfig, RegistryTls};
use crate::hosts_dir::{go_url_parts, logrus_line, parse_go_duration};

/// CRI's plugin in config versions 1–2 (`cri` in version 1 is renamed to it by `v1Migrate`).
pub const CRI_PLUGIN_V2: &str = "io.containerd.grpc.v1.cri";
/// The CRI image plugin of containerd 2.x (config version 3+).
pub const CRI_IMAGES_PLUGIN: &str = "io.containerd.cri.v1.images";
/// The transfer service plugin.
pub const TRANSFER_PLUGIN: &str = "io.containerd.transfer.v1.local";
/// The highest config version containerd 2.3 reads (`version.ConfigVersion`).
pub const MAX_VERSION_2X: i64 = 4;
/// The highest config version containerd 1.7 reads.
pub const MAX_VERSION_1X: i64 = 2;

struct Ctx<'a> {
    path: &'a Path,
}

impl Ctx<'_> {
    fn wrong(&self, key: &str, expected: &'static str, found: &Value) -> ContainerdConfigError {
        ContainerdConfigError::WrongType {
            path: self.path.to_path_buf(),
            key: key.to_string(),
            expected,
            found: found.type_str(),
        }
    }
    fn table<'v>(
        &self,
        t: &'v Table,
        k: &str,
        key: &str,
    ) -> Result<Option<&'v Table>, ContainerdConfigError> {
        match t.get(k) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(other) => Err(self.wrong(key, "table", other)),
        }
    }
    fn string(
        &self,
        t: &Table,
        k: &str,
        key: &str,
    ) -> Result<Option<String>, ContainerdConfigError> {
        match t.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(key, "string", other)),
        }
    }
    fn boolean(
        &self,
        t: &Table,
        k: &str,
        key: &str,
    ) -> Result<Option<bool>, ContainerdConfigError> {
        match t.get(k) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong(key, "boolean", other)),
        }
    }
    fn count(&self, t: &Table, k: &str, key: &str) -> Result<Option<usize>, ContainerdConfigError> {
        match t.get(k) {
            None => Ok(None),
            Some(Value::Integer(i)) => {
                usize::try_from(*i)
                    .map(Some)
                    .map_err(|_| ContainerdConfigError::Negative {
                        path: self.path.to_path_buf(),
                        key: key.to_string(),
                        value: i.to_string(),
                    })
            }
            Some(other) => Err(self.wrong(key, "integer", other)),
        }
    }
    fn strings(&self, v: &Value, key: &str) -> Result<Vec<String>, ContainerdConfigError> {
        let Value::Array(items) = v else {
            return Err(self.wrong(key, "array of strings", v));
        };
        items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                other => Err(self.wrong(key, "string", other)),
            })
            .collect()
    }
}

fn warning(msg: &str) -> String {
    logrus_line("warning", msg, &[])
}

/// The CRI image settings as containerd 2.x sees them after migrating a version 1–2 file
/// (`migrateConfig`): the keys of the old `cri` table copied over the images table.
fn migrated_images(plugins: &Table, cri: Option<&Table>, keep_images: bool) -> Table {
    let mut dst = if keep_images {
        match plugins.get(CRI_IMAGES_PLUGIN) {
            Some(Value::Table(t)) => t.clone(),
            _ => Table::new(),
        }
    } else {
        Table::new()
    };
    let Some(src) = cri else {
        return dst;
    };
    for key in [
        "registry",
        "image_decryption",
        "max_concurrent_downloads",
        "image_pull_progress_timeout",
        "image_pull_with_sync_fs",
        "stats_collect_period",
    ] {
        if let Some(v) = src.get(key) {
            dst.insert(key.to_string(), v.clone());
        }
    }
    if let Some(Value::Table(c)) = src.get("containerd") {
        for key in [
            "snapshotter",
            "disable_snapshot_annotations",
            "discard_unpacked_layers",
        ] {
            if let Some(v) = c.get(key) {
                dst.insert(key.to_string(), v.clone());
            }
        }
    }
    dst
}

/// Parses `text` (the content of `file`) for `generation` (`None`: from `version`).
pub(crate) fn parse(
    text: &str,
    file: &Path,
    generation: Option<ContainerdGeneration>,
) -> Result<ContainerdConfig, ContainerdConfigError> {
    let cx = Ctx { path: file };
    let doc: Table = text
        .parse()
        .map_err(|e: toml::de::Error| ContainerdConfigError::Toml {
            path: file.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
    let version = match doc.get("version") {
        None => 0,
        Some(Value::Integer(i)) => *i,
        Some(other) => return Err(cx.wrong("version", "integer", other)),
    };
    let generation = generation.unwrap_or(if version >= 3 {
        ContainerdGeneration::V2
    } else {
        ContainerdGeneration::V1
    });
    let max = match generation {
        ContainerdGeneration::V1 => MAX_VERSION_1X,
        ContainerdGeneration::V2 => MAX_VERSION_2X,
    };
    if version > max {
        return Err(match generation {
            ContainerdGeneration::V1 => ContainerdConfigError::UnsupportedVersion1x {
                path: file.to_path_buf(),
                version,
            },
            ContainerdGeneration::V2 => ContainerdConfigError::UnsupportedVersion {
                path: file.to_path_buf(),
                version,
                max,
            },
        });
    }
    let version = u32::try_from(version).map_err(|_| ContainerdConfigError::Negative {
        path: file.to_path_buf(),
        key: "version".into(),
        value: version.to_string(),
    })?;
    let mut warnings = Vec::new();
    if generation == ContainerdGeneration::V1 && version < 2 {
        // ValidateV2 (1.7): GetVersion() reports an absent version as 1.
        warnings.push(warning(&format!(
            "containerd config version `{}` has been deprecated and will be converted on each startup in containerd v2.0, use `containerd config migrate` after upgrading to containerd 2.0 to avoid conversion on startup",
            version.max(1)
        )));
    }
    let empty = Table::new();
    let plugins = cx.table(&doc, "plugins", "plugins")?.unwrap_or(&empty);
    let cri_key = |name: &str| format!("plugins.{}", pullsim_reference::go_quote(name));
    let images_owned;
    let (images, images_key): (&Table, String) = if version >= 3 {
        let t = cx
            .table(plugins, CRI_IMAGES_PLUGIN, &cri_key(CRI_IMAGES_PLUGIN))?
            .unwrap_or(&empty);
        (t, cri_key(CRI_IMAGES_PLUGIN))
    } else {
        // v1Migrate: a bare `cri` is io.containerd.grpc.v1.cri.
        let cri = match cx.table(plugins, CRI_PLUGIN_V2, &cri_key(CRI_PLUGIN_V2))? {
            Some(t) => Some(t),
            None if version <= 1 => cx.table(plugins, "cri", "plugins.cri")?,
            None => None,
        };
        if let Some(cri) = cri {
            cx.table(
                cri,
                "containerd",
                &format!("{}.containerd", cri_key(CRI_PLUGIN_V2)),
            )?;
        }
        let keep = generation == ContainerdGeneration::V2;
        images_owned = migrated_images(plugins, cri, keep);
        if generation == ContainerdGeneration::V2 {
            warnings.push(warning(&format!(
                "Configuration migrated from version {version}, use `containerd config migrate` to avoid migration"
            )));
        }
        (&images_owned, cri_key(CRI_PLUGIN_V2))
    };
    if generation == ContainerdGeneration::V2 && version == 3 {
        warnings.push(warning(
            "Configuration migrated from version 3, use `containerd config migrate` to avoid migration",
        ));
    }
    let k = |name: &str| format!("{images_key}.{name}");
    let registry = cx
        .table(images, "registry", &k("registry"))?
        .unwrap_or(&empty);
    let rk = |name: &str| format!("{images_key}.registry.{name}");
    let config_path = cx
        .string(registry, "config_path", &rk("config_path"))?
        .filter(|s| !s.is_empty());

    let mut registry_mirrors = BTreeMap::new();
    for (host, m) in cx
        .table(registry, "mirrors", &rk("mirrors"))?
        .unwrap_or(&empty)
    {
        let key = rk(&format!(
            "mirrors.{}.endpoint",
            pullsim_reference::go_quote(host)
        ));
        let Value::Table(m) = m else {
            return Err(cx.wrong(&key, "table", m));
        };
        let endpoints = match m.get("endpoint") {
            None => Vec::new(),
            Some(v) => cx.strings(v, &key)?,
        };
        registry_mirrors.insert(host.clone(), endpoints);
    }

    let mut registry_configs = BTreeMap::new();
    for (host, c) in cx
        .table(registry, "configs", &rk("configs"))?
        .unwrap_or(&empty)
    {
        let key = rk(&format!("configs.{}", pullsim_reference::go_quote(host)));
        let Value::Table(c) = c else {
            return Err(cx.wrong(&key, "table", c));
        };
        let auth = match cx.table(c, "auth", &format!("{key}.auth"))? {
            Some(a) => Some(auth_config(&cx, a, &format!("{key}.auth"))?),
            None => None,
        };
        let tls = match cx.table(c, "tls", &format!("{key}.tls"))? {
            Some(t) => {
                let tk = |n: &str| format!("{key}.tls.{n}");
                Some(RegistryTls {
                    insecure_skip_verify: cx
                        .boolean(t, "insecure_skip_verify", &tk("insecure_skip_verify"))?
                        .unwrap_or(false),
                    ca_file: cx.string(t, "ca_file", &tk("ca_file"))?.unwrap_or_default(),
                    cert_file: cx
                        .string(t, "cert_file", &tk("cert_file"))?
                        .unwrap_or_default(),
                    key_file: cx
                        .string(t, "key_file", &tk("key_file"))?
                        .unwrap_or_default(),
                })
            }
            None => None,
        };
        registry_configs.insert(host.clone(), RegistryHostConfig { auth, tls });
    }

    let mut registry_headers = BTreeMap::new();
    for (name, v) in cx
        .table(registry, "headers", &rk("headers"))?
        .unwrap_or(&empty)
    {
        registry_headers.insert(
            name.clone(),
            cx.strings(v, &rk(&format!("headers.{name}")))?,
        );
    }

    // ValidateImageConfig (2.x) / ValidatePluginConfig (1.x), registry part, in its order.
    if !registry_mirrors.is_empty() {
        if config_path.is_some() {
            return Err(ContainerdConfigError::MirrorsWithConfigPath {
                path: file.to_path_buf(),
            });
        }
        warnings.push(warning(
            "`mirrors` is deprecated, please use `config_path` instead",
        ));
    }
    if generation == ContainerdGeneration::V1 && registry_configs.values().any(|c| c.tls.is_some())
    {
        if config_path.is_some() {
            return Err(ContainerdConfigError::TlsWithConfigPath {
                path: file.to_path_buf(),
            });
        }
        warnings.push(warning(
            "`configs.tls` is deprecated, please use `config_path` instead",
        ));
    }
    if !registry_configs.is_empty() {
        warnings.push(warning(
            "`configs` is deprecated, please use `config_path` instead",
        ));
    }
    let auths = cx.table(registry, "auths", &rk("auths"))?.unwrap_or(&empty);
    let has_auths = !auths.is_empty();
    for (endpoint, a) in auths {
        let key = rk(&format!("auths.{}", pullsim_reference::go_quote(endpoint)));
        let Value::Table(a) = a else {
            return Err(cx.wrong(&key, "table", a));
        };
        let auth = auth_config(&cx, a, &key)?;
        let (scheme, host, _) =
            go_url_parts(endpoint).map_err(|reason| ContainerdConfigError::AuthsUrl {
                path: file.to_path_buf(),
                endpoint: endpoint.clone(),
                reason,
            })?;
        // "Do not include the scheme in the new registry config."
        let endpoint = if scheme.is_empty() {
            endpoint.clone()
        } else {
            host
        };
        registry_configs.entry(endpoint).or_default().auth = Some(auth);
    }
    if has_auths {
        warnings.push(warning(
            "`auths` is deprecated, please use `ImagePullSecrets` instead",
        ));
    }

    let image_pull_progress_timeout = match cx.string(
        images,
        "image_pull_progress_timeout",
        &k("image_pull_progress_timeout"),
    )? {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => {
            let nanos =
                parse_go_duration(&s).map_err(|source| ContainerdConfigError::ProgressTimeout {
                    path: file.to_path_buf(),
                    source,
                })?;
            let nanos = u64::try_from(nanos).map_err(|_| ContainerdConfigError::Negative {
                path: file.to_path_buf(),
                key: k("image_pull_progress_timeout"),
                value: s.clone(),
            })?;
            Some(Duration::from_nanos(nanos))
        }
    };
    let transfer = cx
        .table(plugins, TRANSFER_PLUGIN, &cri_key(TRANSFER_PLUGIN))?
        .unwrap_or(&empty);
    Ok(ContainerdConfig {
        version,
        generation,
        config_path,
        registry_configs,
        registry_mirrors,
        registry_headers,
        max_concurrent_downloads: cx.count(
            images,
            "max_concurrent_downloads",
            &k("max_concurrent_downloads"),
        )?,
        transfer_max_concurrent_downloads: cx.count(
            transfer,
            "max_concurrent_downloads",
            &format!("{}.max_concurrent_downloads", cri_key(TRANSFER_PLUGIN)),
        )?,
        image_pull_progress_timeout,
        use_local_image_pull: generation == ContainerdGeneration::V2
            && cx
                .boolean(images, "use_local_image_pull", &k("use_local_image_pull"))?
                .unwrap_or(false),
        disable_snapshot_annotations: cx.boolean(
            images,
            "disable_snapshot_annotations",
            &k("disable_snapshot_annotations"),
        )?,
        discard_unpacked_layers: cx
            .boolean(
                images,
                "discard_unpacked_layers",
                &k("discard_unpacked_layers"),
            )?
            .unwrap_or(false),
        image_pull_with_sync_fs: cx
            .boolean(
                images,
                "image_pull_with_sync_fs",
                &k("image_pull_with_sync_fs"),
            )?
            .unwrap_or(false),
        warnings,
    })
}

/// CRI's `AuthConfig` {username, password, auth, identitytoken} as the CRI `AuthConfig`
/// (`toRuntimeAuthConfig`).
fn auth_config(cx: &Ctx<'_>, t: &Table, key: &str) -> Result<AuthConfig, ContainerdConfigError> {
    let field = |n: &str| cx.string(t, n, &format!("{key}.{n}"));
    let secret = |v: Option<String>| v.filter(|s| !s.is_empty()).map(Secret::new);
    Ok(AuthConfig {
        username: field("username")?.unwrap_or_default(),
        password: Secret::new(field("password")?.unwrap_or_default()),
        auth: secret(field("auth")?),
        identity_token: secret(field("identitytoken")?),
        ..AuthConfig::default()
    })
}

/// Reads and parses `path`.
pub(crate) fn load(
    path: &Path,
    generation: Option<ContainerdGeneration>,
) -> Result<ContainerdConfig, ContainerdConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ContainerdConfigError::Read {
        path: PathBuf::from(path),
        source,
    })?;
    parse(&text, path, generation)
}
