//! Reading and validating the files, and merging the drop-ins
//! (`loadConfigFile`, `postProcessRegistries`, `dropInConfigs`, `tryUpdatingCache`,
//! `updateWithConfigurationFrom` in `pkg/sysregistriesv2/system_registries_v2.go`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{ConfigError, FileKind, RegistriesConfError};
use super::types::{Endpoint, PullFromMirror, RegistriesConf, Registry, ShortNameMode};

/// How a missing main file is treated (`tryUpdatingCache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MainFile {
    /// The path was given explicitly (`SystemRegistriesConfPath`, CRI-O's `registries_conf`):
    /// a missing file is an error.
    Explicit,
    /// The built-in default path: a missing file means an empty configuration.
    Default,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawFile {
    #[serde(default)]
    registry: Vec<RawRegistry>,
    unqualified_search_registries: Option<Vec<String>>,
    #[serde(default)]
    short_name_mode: String,
    /// The v1 format's `[registries.search]`, `[registries.insecure]`, `[registries.block]`.
    registries: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawRegistry {
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    pull_from_mirror: String,
    #[serde(default)]
    mirror: Vec<RawMirror>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RawMirror {
    #[serde(default)]
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    pull_from_mirror: String,
}

/// One file after validation (`parsedConfig`).
#[derive(Debug)]
struct ParsedFile {
    registries: Vec<Registry>,
    unqualified_search_registries: Option<Vec<String>>,
    short_name_mode: Option<ShortNameMode>,
}

/// `parseLocation`: strip trailing `/`, refuse `http://` and `https://`.
fn parse_location(key: &'static str, input: &str) -> Result<String, ConfigError> {
    let trimmed = input.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(ConfigError::UriScheme {
            key,
            value: input.to_owned(),
        });
    }
    Ok(trimmed.to_owned())
}

/// Whether the v1 table sets anything (`V1RegistriesConf.hasSetField`): any of `search`,
/// `insecure`, `block` with a `registries` key (an empty list counts, as a non-nil slice does).
fn v1_is_set(v1: &toml::Table) -> bool {
    ["search", "insecure", "block"].iter().any(|k| {
        v1.get(*k)
            .and_then(|t| t.as_table())
            .is_some_and(|t| t.contains_key("registries"))
    })
}

/// `postProcessRegistries` for one `[[registry]]` table.
fn post_process_registry(raw: RawRegistry) -> Result<Registry, ConfigError> {
    let location = parse_location("location", &raw.location)?;
    let prefix = if raw.prefix.is_empty() {
        if location.is_empty() {
            return Err(ConfigError::LocationAndPrefixUnset);
        }
        location.clone()
    } else {
        let prefix = parse_location("prefix", &raw.prefix)?;
        if !prefix.starts_with("*.") && location.is_empty() {
            return Err(ConfigError::LocationUnsetPrefixNotWildcard { prefix });
        }
        prefix
    };
    if !raw.pull_from_mirror.is_empty() {
        return Err(ConfigError::PullFromMirrorOnRegistry { prefix });
    }
    let mut mirrors = Vec::with_capacity(raw.mirror.len());
    for m in raw.mirror {
        let mirror_location = parse_location("mirror.location", &m.location)?;
        if mirror_location.is_empty() {
            return Err(ConfigError::MirrorLocationUnset { prefix });
        }
        if raw.mirror_by_digest_only && !m.pull_from_mirror.is_empty() {
            return Err(ConfigError::MirrorByDigestOnlyConflict {
                prefix,
                mirror: mirror_location,
            });
        }
        let pull_from_mirror = if m.pull_from_mirror.is_empty() {
            PullFromMirror::All
        } else {
            PullFromMirror::from_name(&m.pull_from_mirror).ok_or_else(|| {
                ConfigError::UnsupportedPullFromMirror {
                    value: m.pull_from_mirror.clone(),
                    mirror: mirror_location.clone(),
                }
            })?
        };
        mirrors.push(Endpoint {
            location: mirror_location,
            insecure: m.insecure,
            pull_from_mirror,
        });
    }
    Ok(Registry {
        prefix,
        endpoint: Endpoint {
            location,
            insecure: raw.insecure,
            pull_from_mirror: PullFromMirror::All,
        },
        mirrors,
        blocked: raw.blocked,
        mirror_by_digest_only: raw.mirror_by_digest_only,
    })
}

/// `loadConfigFile` on already-read text: decode, refuse v1, `postProcessRegistries`, the
/// short-name mode and the wildcard-prefix check, in containers/image's order.
fn parse_file(text: &str, kind: FileKind) -> Result<ParsedFile, ConfigError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Toml {
        message: e.to_string(),
    })?;
    if raw.registries.as_ref().is_some_and(v1_is_set) {
        return Err(match kind {
            FileKind::DropIn => ConfigError::V1Format,
            FileKind::Main => ConfigError::V1NotSupported,
        });
    }
    let mut registries = Vec::with_capacity(raw.registry.len());
    for r in raw.registry {
        registries.push(post_process_registry(r)?);
    }

    // Entries sharing a location (or, without location, a prefix) must agree on `insecure`
    // and `blocked`.
    let group_key = |r: &Registry| {
        if r.endpoint.location.is_empty() {
            r.prefix.clone()
        } else {
            r.endpoint.location.clone()
        }
    };
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in registries.iter().enumerate() {
        groups.entry(group_key(r)).or_default().push(i);
    }
    for r in &registries {
        for &j in groups.get(&group_key(r)).map(Vec::as_slice).unwrap_or(&[]) {
            let other = &registries[j];
            if r.endpoint.insecure != other.endpoint.insecure {
                return Err(ConfigError::ConflictingSetting {
                    location: r.endpoint.location.clone(),
                    key: "insecure",
                });
            }
            if r.blocked != other.blocked {
                return Err(ConfigError::ConflictingSetting {
                    location: r.endpoint.location.clone(),
                    key: "blocked",
                });
            }
        }
    }

    let unqualified_search_registries = match raw.unqualified_search_registries {
        None => None,
        Some(list) => {
            let mut out = Vec::with_capacity(list.len());
            for entry in list {
                let registry = parse_location("unqualified-search-registries", &entry)?;
                if !pullsim_reference::is_valid_domain(&registry) {
                    return Err(ConfigError::InvalidSearchRegistry { value: registry });
                }
                out.push(registry);
            }
            Some(out)
        }
    };

    // One entry per prefix, the first one winning, sorted by prefix.
    let mut unique: BTreeMap<String, Registry> = BTreeMap::new();
    for r in registries {
        unique.entry(r.prefix.clone()).or_insert(r);
    }
    let registries: Vec<Registry> = unique.into_values().collect();

    let short_name_mode = if raw.short_name_mode.is_empty() {
        None
    } else {
        Some(
            ShortNameMode::from_name(&raw.short_name_mode).ok_or_else(|| {
                ConfigError::InvalidShortNameMode {
                    value: raw.short_name_mode.clone(),
                }
            })?,
        )
    };

    for r in &registries {
        if r.prefix.starts_with("*.") && r.prefix.contains(['/', '@', ':']) {
            return Err(ConfigError::InvalidWildcardPrefix {
                prefix: r.prefix.clone(),
            });
        }
    }

    Ok(ParsedFile {
        registries,
        unqualified_search_registries,
        short_name_mode,
    })
}

/// The `.conf` files directly inside `dir`, in file-name order (`dropInConfigs`:
/// `filepath.WalkDir` is lexical and does not descend). A missing directory has none.
fn drop_in_files(dir: &Path) -> Result<Vec<PathBuf>, RegistriesConfError> {
    let read_dir_err = |source| RegistriesConfError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_dir_err(e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(read_dir_err)?;
        let file_type = entry.file_type().map_err(read_dir_err)?;
        if file_type.is_dir() {
            continue;
        }
        let name = entry.file_name();
        if name.as_encoded_bytes().ends_with(b".conf") {
            files.push(entry.path());
        }
    }
    files.sort_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(files)
}

impl RegistriesConf {
    /// Read `config_path` and the drop-in directory `config_dir_path` (when given), as
    /// containers/image's `tryUpdatingCache` does:
    ///
    /// - the main file is validated on its own; when it is missing, `main` decides whether
    ///   that is an error ([`MainFile::Explicit`]) or an empty configuration;
    /// - each `*.conf` file of the directory (file-name order, no subdirectories; a missing
    ///   directory is fine, a file that vanished meanwhile is skipped) is validated on its own,
    ///   then merged: its `[[registry]]` entries replace earlier ones with the same `prefix`;
    ///   `unqualified-search-registries` and `short-name-mode` replace earlier values when set.
    ///
    /// Errors name the file and the key ([`RegistriesConfError`]).
    pub fn load(
        config_path: &Path,
        config_dir_path: Option<&Path>,
        main: MainFile,
    ) -> Result<RegistriesConf, RegistriesConfError> {
        let mut conf = RegistriesConf {
            config_path: config_path.to_owned(),
            config_dir_path: config_dir_path.map(Path::to_owned).unwrap_or_default(),
            ..RegistriesConf::default()
        };
        match std::fs::read_to_string(config_path) {
            Ok(text) => {
                let parsed = parse_file(&text, FileKind::Main).map_err(|source| {
                    RegistriesConfError::Invalid {
                        path: config_path.to_owned(),
                        kind: FileKind::Main,
                        source,
                    }
                })?;
                conf.merge(parsed, config_path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && main == MainFile::Default => {}
            Err(source) => {
                return Err(RegistriesConfError::Read {
                    path: config_path.to_owned(),
                    kind: FileKind::Main,
                    source,
                });
            }
        }
        if let Some(dir) = config_dir_path {
            for path in drop_in_files(dir)? {
                let text = match std::fs::read_to_string(&path) {
                    Ok(text) => text,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(source) => {
                        return Err(RegistriesConfError::Read {
                            path,
                            kind: FileKind::DropIn,
                            source,
                        });
                    }
                };
                let parsed = parse_file(&text, FileKind::DropIn).map_err(|source| {
                    RegistriesConfError::Invalid {
                        path: path.clone(),
                        kind: FileKind::DropIn,
                        source,
                    }
                })?;
                conf.merge(parsed, &path);
            }
        }
        Ok(conf)
    }

    /// Parse one file's text as the main file, with no drop-ins (for tests and tools).
    pub fn parse_str(
        text: &str,
        config_path: &Path,
    ) -> Result<RegistriesConf, RegistriesConfError> {
        let parsed =
            parse_file(text, FileKind::Main).map_err(|source| RegistriesConfError::Invalid {
                path: config_path.to_owned(),
                kind: FileKind::Main,
                source,
            })?;
        let mut conf = RegistriesConf {
            config_path: config_path.to_owned(),
            ..RegistriesConf::default()
        };
        conf.merge(parsed, config_path);
        Ok(conf)
    }

    /// `updateWithConfigurationFrom`.
    fn merge(&mut self, update: ParsedFile, origin: &Path) {
        let mut by_prefix: BTreeMap<String, Registry> = std::mem::take(&mut self.registries)
            .into_iter()
            .map(|r| (r.prefix.clone(), r))
            .collect();
        for r in update.registries {
            by_prefix.insert(r.prefix.clone(), r);
        }
        self.registries = by_prefix.into_values().collect();
        if let Some(list) = update.unqualified_search_registries {
            self.unqualified_search_registries = list;
            self.unqualified_search_registries_origin = Some(origin.to_owned());
        }
        if let Some(mode) = update.short_name_mode {
            self.short_name_mode = mode;
        }
    }
}
