//! Exec credential-provider plugins, as the kubelet runs them
//! (pkg/credentialprovider/plugin/plugin.go, config.go, plugins.go).
//!
//! [`load_plugins`] reads a `CredentialProviderConfig` and checks the bin dir and executables;
//! each [`PluginProvider`] answers `provide(image)`: nothing when no `matchImages` pattern
//! matches the image (same URL/glob rules as the keyring), a cached answer when one is valid
//! (looked up by image, then registry, then the global key), else it runs the plugin — identical
//! concurrent requests share one run — and caches the answer by the response's `cacheKeyType`
//! for `cacheDuration` (`0` = do not cache; absent = the provider's `defaultCacheDuration`,
//! where `0` also means do not cache).

pub mod config;
pub mod duration;
pub mod exec;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::auth::{DockerConfig, DockerConfigEntry, RawEntry};
use crate::basic_keyring::{BasicKeyring, Match, Source};
use crate::error::CredentialsError;
pub use crate::error::PluginError;
use crate::urlmatch::urls_match_str;

pub use config::ProviderConfig;
pub use exec::CacheKeyType;

/// plugin.go `globalCacheKey`.
pub const GLOBAL_CACHE_KEY: &str = "global";

/// The kubelet's catch-all plugin timeout (plugin.go `ExecPlugin`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A clock for cache expiry: time since an arbitrary epoch.
pub type Clock = Arc<dyn Fn() -> Duration + Send + Sync>;

struct CacheEntry {
    credentials: DockerConfig,
    expires_at: Duration,
}

type FlightResult = Result<exec::Response, PluginError>;

#[derive(Default)]
struct Flight {
    result: Mutex<Option<FlightResult>>,
    done: Condvar,
}

/// One configured plugin with its cache (plugin.go `pluginProvider`).
pub struct PluginProvider {
    config: ProviderConfig,
    bin_dir: PathBuf,
    timeout: Duration,
    clock: Clock,
    cache: Mutex<HashMap<String, CacheEntry>>,
    flights: Mutex<HashMap<String, Arc<Flight>>>,
    runs: AtomicUsize,
}

impl fmt::Debug for PluginProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PluginProvider")
            .field("name", &self.config.name)
            .field("match_images", &self.config.match_images)
            .field("bin_dir", &self.bin_dir)
            .finish_non_exhaustive()
    }
}

fn real_clock() -> Clock {
    let start = Instant::now();
    Arc::new(move || start.elapsed())
}

impl PluginProvider {
    /// A provider for one validated config entry.
    pub fn new(config: ProviderConfig, bin_dir: &Path) -> Self {
        PluginProvider {
            config,
            bin_dir: bin_dir.to_path_buf(),
            timeout: DEFAULT_TIMEOUT,
            clock: real_clock(),
            cache: Mutex::new(HashMap::new()),
            flights: Mutex::new(HashMap::new()),
            runs: AtomicUsize::new(0),
        }
    }

    /// Replace the 1-minute timeout (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Replace the clock used for cache expiry (tests: virtual time).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Provider name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Its configuration.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// How many times the plugin executable has been run.
    pub fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    /// plugin.go `isImageAllowed`: some `matchImages` pattern matches the image.
    pub fn is_image_allowed(&self, image: &str) -> bool {
        self.config
            .match_images
            .iter()
            .any(|m| urls_match_str(m, image) == Ok(true))
    }

    fn cached(&self, image: &str) -> Option<DockerConfig> {
        let now = (self.clock)();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, e| now <= e.expires_at);
        let registry = image.split('/').next().unwrap_or("");
        [image, registry, GLOBAL_CACHE_KEY]
            .iter()
            .find_map(|k| cache.get(*k).map(|e| e.credentials.clone()))
    }

    fn run_shared(&self, image: &str) -> FlightResult {
        let (flight, leader) = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(image) {
                Some(f) => (Arc::clone(f), false),
                None => {
                    let f = Arc::new(Flight::default());
                    flights.insert(image.to_string(), Arc::clone(&f));
                    (f, true)
                }
            }
        };
        if leader {
            self.runs.fetch_add(1, Ordering::SeqCst);
            let result = exec::exec_plugin(
                &self.config.name,
                &self.bin_dir,
                &self.config.api_version,
                &self.config.args,
                &self.config.env,
                image,
                self.timeout,
            );
            *flight.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result.clone());
            flight.done.notify_all();
            self.flights
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(image);
            result
        } else {
            let mut slot = flight.result.lock().unwrap_or_else(|p| p.into_inner());
            while slot.is_none() {
                slot = flight.done.wait(slot).unwrap_or_else(|p| p.into_inner());
            }
            slot.clone().unwrap_or_else(|| {
                Err(PluginError {
                    provider: self.config.name.clone(),
                    message: "plugin run vanished".into(),
                })
            })
        }
    }

    /// plugin.go `provide`: the docker config this plugin contributes for `image` (the
    /// normalized repository). Errors are what the kubelet logs before contributing nothing.
    pub fn provide(&self, image: &str) -> Result<DockerConfig, PluginError> {
        if !self.is_image_allowed(image) {
            return Ok(Vec::new());
        }
        if let Some(cfg) = self.cached(image) {
            return Ok(cfg);
        }
        let response = self.run_shared(image)?;
        let cache_key = match response.cache_key_type.as_str() {
            "Image" => image.to_string(),
            "Registry" => image.split('/').next().unwrap_or("").to_string(),
            "Global" => GLOBAL_CACHE_KEY.to_string(),
            other => {
                return Err(PluginError {
                    provider: self.config.name.clone(),
                    message: format!(
                        "credential provider plugin did not return a valid cacheKeyType: {}",
                        crate::gourl::go_quote(other)
                    ),
                });
            }
        };
        let cfg: DockerConfig = response
            .auth
            .iter()
            .map(|(pattern, user, pass)| {
                (
                    pattern.clone(),
                    DockerConfigEntry {
                        username: user.clone(),
                        password: pass.clone(),
                        email: String::new(),
                        raw: RawEntry::default(),
                    },
                )
            })
            .collect();
        let ttl = match response.cache_duration {
            Some(0) => return Ok(cfg),
            Some(d) => d,
            None => match self.config.default_cache_duration {
                None | Some(0) => return Ok(cfg),
                Some(d) => d,
            },
        };
        let ttl = Duration::from_nanos(u64::try_from(ttl.max(0)).unwrap_or(u64::MAX));
        let expires_at = (self.clock)().saturating_add(ttl);
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            cache_key,
            CacheEntry {
                credentials: cfg.clone(),
                expires_at,
            },
        );
        Ok(cfg)
    }

    /// The credentials this plugin alone yields for `image`, as keyring matches.
    pub fn lookup(
        &self,
        image: &pullsim_reference::Reference,
    ) -> Result<Vec<Match>, CredentialsError> {
        let repo = image.name();
        let cfg = self.provide(&repo)?;
        let mut ring = BasicKeyring::default();
        ring.add(
            &Source::Plugin {
                name: self.config.name.clone(),
            },
            &cfg,
        );
        Ok(ring.lookup(&repo))
    }
}

/// plugin.go `RegisterCredentialProviderPlugins`: check the bin dir, read and validate the
/// config, check each executable; providers in config order.
pub fn load_plugins(
    config_path: &Path,
    bin_dir: &Path,
) -> Result<Vec<Arc<PluginProvider>>, CredentialsError> {
    load_plugins_with(bin_dir, || config::read_config(config_path))
}

/// [`load_plugins`] with the config given as text (`--provider-config -`: standard input,
/// named `origin` in errors).
pub fn load_plugins_from_text(
    text: &str,
    origin: &Path,
    bin_dir: &Path,
) -> Result<Vec<Arc<PluginProvider>>, CredentialsError> {
    load_plugins_with(bin_dir, || {
        config::parse_configs(&[(origin.to_path_buf(), text.to_string())], origin)
    })
}

fn load_plugins_with(
    bin_dir: &Path,
    configs: impl FnOnce() -> Result<Vec<config::ProviderConfig>, CredentialsError>,
) -> Result<Vec<Arc<PluginProvider>>, CredentialsError> {
    match std::fs::metadata(bin_dir) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CredentialsError::PluginConfig {
                path: bin_dir.to_path_buf(),
                message: format!(
                    "plugin binary directory {} did not exist",
                    bin_dir.display()
                ),
            });
        }
        Err(e) => {
            return Err(CredentialsError::PluginConfig {
                path: bin_dir.to_path_buf(),
                message: format!(
                    "error inspecting binary directory {}: {e}",
                    bin_dir.display()
                ),
            });
        }
    }
    let configs = configs()?;
    let mut out = Vec::new();
    for cfg in configs {
        let bin = bin_dir.join(&cfg.name);
        match std::fs::metadata(&bin) {
            Ok(m) if m.is_file() && is_executable(&m) => {}
            Ok(_) => {
                return Err(CredentialsError::PluginConfig {
                    path: bin.clone(),
                    message: format!(
                        "error inspecting binary executable {}: permission denied",
                        bin.display()
                    ),
                });
            }
            Err(_) => {
                return Err(CredentialsError::PluginConfig {
                    path: bin.clone(),
                    message: format!("plugin binary executable {} did not exist", bin.display()),
                });
            }
        }
        out.push(Arc::new(PluginProvider::new(cfg, bin_dir)));
    }
    Ok(out)
}

#[cfg(unix)]
fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_m: &std::fs::Metadata) -> bool {
    true
}
