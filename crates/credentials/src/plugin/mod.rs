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
pub mod service_account;
pub mod token_attributes;

use std::collections::{BTreeMap, HashMap};
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
pub use service_account::{
    PodContext, ServiceAccountData, ServiceAccountRef, ServiceAccounts, TokenRequest,
};
pub use token_attributes::TokenAttributes;

use crate::Secret;

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

/// What a provider contributes for one image: its credentials, and the ServiceAccount they
/// were obtained for when the plugin ran in service-account token mode.
#[derive(Debug, Clone, Default)]
pub struct Provided {
    /// The docker config the plugin answered (or the cached one).
    pub config: DockerConfig,
    /// The pod's ServiceAccount, when a token for it was part of the request.
    pub service_account: Option<ServiceAccountRef>,
}

/// The service-account part of one request (plugin.go `provide`, before the cache lookup).
struct AccountRequest {
    token: Secret,
    annotations: BTreeMap<String, String>,
    key: Vec<u8>,
    token_hash: String,
    account: ServiceAccountRef,
}

/// One configured plugin with its cache (plugin.go `pluginProvider`).
pub struct PluginProvider {
    config: ProviderConfig,
    bin_dir: PathBuf,
    timeout: Duration,
    clock: Clock,
    sa_tokens: bool,
    cache: Mutex<HashMap<Vec<u8>, CacheEntry>>,
    flights: Mutex<HashMap<Vec<u8>, Arc<Flight>>>,
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
    /// A provider for one validated config entry (the service-account token feature gate on).
    pub fn new(config: ProviderConfig, bin_dir: &Path) -> Self {
        PluginProvider {
            config,
            bin_dir: bin_dir.to_path_buf(),
            timeout: DEFAULT_TIMEOUT,
            clock: real_clock(),
            sa_tokens: true,
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

    /// The kubelet's `KubeletServiceAccountTokenForCredentialProviders` gate: off, the plugin
    /// never gets a token (`newServiceAccountProvider` returns nil) nor the pod's identity.
    pub fn with_service_account_tokens(mut self, enabled: bool) -> Self {
        self.sa_tokens = enabled;
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

    /// The token attributes in effect: configured, with an audience, and the gate on.
    pub fn token_attributes(&self) -> Option<&TokenAttributes> {
        self.config
            .token_attributes
            .as_ref()
            .filter(|t| self.sa_tokens && !t.audience.is_empty())
    }

    /// plugin.go `isImageAllowed`: some `matchImages` pattern matches the image.
    pub fn is_image_allowed(&self, image: &str) -> bool {
        self.config
            .match_images
            .iter()
            .any(|m| urls_match_str(m, image) == Ok(true))
    }

    fn error(&self, message: String) -> PluginError {
        PluginError {
            provider: self.config.name.clone(),
            message,
        }
    }

    fn cached(&self, image: &str, sa_key: &[u8]) -> Result<Option<DockerConfig>, PluginError> {
        let now = (self.clock)();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.retain(|_, e| now <= e.expires_at);
        let registry = image.split('/').next().unwrap_or("");
        for base in [image, registry, GLOBAL_CACHE_KEY] {
            let key = service_account::cache_key(base, sa_key)
                .map_err(|e| self.error(format!("error generating cache key: {e}")))?;
            if let Some(e) = cache.get(&key) {
                return Ok(Some(e.credentials.clone()));
            }
        }
        Ok(None)
    }

    fn run_shared(&self, key: Vec<u8>, request: exec::Request<'_>) -> FlightResult {
        let (flight, leader) = {
            let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&key) {
                Some(f) => (Arc::clone(f), false),
                None => {
                    let f = Arc::new(Flight::default());
                    flights.insert(key.clone(), Arc::clone(&f));
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
                request,
                self.timeout,
            );
            *flight.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(result.clone());
            flight.done.notify_all();
            self.flights
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&key);
            result
        } else {
            let mut slot = flight.result.lock().unwrap_or_else(|p| p.into_inner());
            while slot.is_none() {
                slot = flight.done.wait(slot).unwrap_or_else(|p| p.into_inner());
            }
            slot.clone()
                .unwrap_or_else(|| Err(self.error("plugin run vanished".into())))
        }
    }

    /// The service-account half of plugin.go `provide`: `Ok(None)` when the plugin runs
    /// without a token; an error is what the kubelet logs before returning no credentials.
    fn account_request(
        &self,
        attrs: &TokenAttributes,
        pod: Option<&PodContext>,
    ) -> Result<Option<AccountRequest>, PluginError> {
        let sa_name = pod.map(|p| p.service_account.as_str()).unwrap_or("");
        let (pod_ns, pod_name) = pod
            .map(|p| (p.namespace.as_str(), p.name.as_str()))
            .unwrap_or(("", ""));
        let required = attrs.require_service_account.unwrap_or(false);
        if pod.is_none() && required {
            return Err(self.error(
                "requireServiceAccount is true and this lookup is for no pod: the plugin is only called for a pod with a ServiceAccount".to_string(),
            ));
        }
        if sa_name.is_empty() {
            if required {
                return Err(self.error(format!(
                    "Service account name is empty for pod {pod_ns}/{pod_name} (requireServiceAccount is true: the plugin is not called)"
                )));
            }
            return Ok(None);
        }
        let Some(pod) = pod else {
            return Ok(None);
        };
        let data = pod.accounts.get(pod_ns, sa_name).map_err(|e| {
            self.error(format!(
                "Failed to get service account {pod_ns}/{sa_name}: {e}"
            ))
        })?;
        let mut annotations = BTreeMap::new();
        for k in &attrs.required_annotation_keys {
            match data.annotations.get(k) {
                Some(v) => {
                    annotations.insert(k.clone(), v.clone());
                }
                None => {
                    return Err(self.error(format!(
                        "Failed to get service account data {pod_ns}/{sa_name}: required annotation {k} not found (the plugin is not called)"
                    )));
                }
            }
        }
        for k in &attrs.optional_annotation_keys {
            if let Some(v) = data.annotations.get(k) {
                annotations.insert(k.clone(), v.clone());
            }
        }
        let request = TokenRequest {
            namespace: pod_ns.to_string(),
            service_account: sa_name.to_string(),
            service_account_uid: data.uid.clone(),
            audience: attrs.audience.clone(),
            pod_name: pod_name.to_string(),
            pod_uid: pod.uid.clone(),
        };
        let token = pod.accounts.token(&request).map_err(|e| {
            self.error(format!(
                "Error getting service account token {pod_ns}/{sa_name}: {e}"
            ))
        })?;
        let token_hash = service_account::token_hash(token.expose());
        let account = ServiceAccountRef {
            uid: data.uid,
            namespace: pod_ns.to_string(),
            name: sa_name.to_string(),
        };
        let key = service_account::service_account_cache_key(
            &account,
            &annotations,
            attrs.caches_by_token().then_some(token_hash.as_str()),
        )
        .map_err(|e| self.error(format!("Error generating service account cache key: {e}")))?;
        Ok(Some(AccountRequest {
            token,
            annotations,
            key,
            token_hash,
            account,
        }))
    }

    /// plugin.go `provide` without a pod (no service-account token): the docker config this
    /// plugin contributes for `image` (the normalized repository). Errors are what the kubelet
    /// logs before contributing nothing.
    pub fn provide(&self, image: &str) -> Result<DockerConfig, PluginError> {
        self.provide_for(image, None).map(|p| p.config)
    }

    /// plugin.go `provide` for a pod (`perPodPluginProvider`).
    pub fn provide_for(
        &self,
        image: &str,
        pod: Option<&PodContext>,
    ) -> Result<Provided, PluginError> {
        if !self.is_image_allowed(image) {
            return Ok(Provided::default());
        }
        let account = match self.token_attributes() {
            Some(attrs) => self.account_request(attrs, pod)?,
            None => None,
        };
        let sa_key: &[u8] = account.as_ref().map(|a| a.key.as_slice()).unwrap_or(&[]);
        let service_account = account.as_ref().map(|a| a.account.clone());
        if let Some(config) = self.cached(image, sa_key)? {
            return Ok(Provided {
                config,
                service_account,
            });
        }
        let no_annotations = BTreeMap::new();
        let (flight_key, request) = match &account {
            Some(a) => (
                service_account::single_flight_key(image, &a.token_hash, &a.annotations)
                    .map_err(|e| self.error(format!("Error generating singleflight key: {e}")))?,
                exec::Request {
                    image,
                    token: a.token.expose(),
                    annotations: &a.annotations,
                },
            ),
            None => (
                image.as_bytes().to_vec(),
                exec::Request {
                    image,
                    token: "",
                    annotations: &no_annotations,
                },
            ),
        };
        let response = self.run_shared(flight_key, request)?;
        if let (Some(a), Some(attrs)) = (&account, self.token_attributes())
            && !a.token.is_empty()
            && !attrs.caches_by_token()
            && response
                .auth
                .iter()
                .any(|(_, _, pass)| pass.expose() == a.token.expose())
        {
            return Err(self.error(format!(
                "Credential provider plugin returned the service account token as the password for image {}, which is not allowed when service account cache type is not set to 'Token'",
                crate::gourl::go_quote(image)
            )));
        }
        let base = match response.cache_key_type.as_str() {
            "Image" => image.to_string(),
            "Registry" => image.split('/').next().unwrap_or("").to_string(),
            "Global" => GLOBAL_CACHE_KEY.to_string(),
            other => {
                return Err(self.error(format!(
                    "credential provider plugin did not return a valid cacheKeyType: {}",
                    crate::gourl::go_quote(other)
                )));
            }
        };
        let config: DockerConfig = response
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
        let provided = Provided {
            config,
            service_account,
        };
        let ttl = match response.cache_duration {
            Some(0) => return Ok(provided),
            Some(d) => d,
            None => match self.config.default_cache_duration {
                None | Some(0) => return Ok(provided),
                Some(d) => d,
            },
        };
        let ttl = Duration::from_nanos(u64::try_from(ttl.max(0)).unwrap_or(u64::MAX));
        let expires_at = (self.clock)().saturating_add(ttl);
        let key = service_account::cache_key(&base, sa_key)
            .map_err(|e| self.error(format!("Error generating cache key: {e}")))?;
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
            key,
            CacheEntry {
                credentials: provided.config.clone(),
                expires_at,
            },
        );
        Ok(provided)
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
                service_account: None,
            },
            &cfg,
        );
        Ok(ring.lookup(&repo))
    }
}

/// plugin.go `RegisterCredentialProviderPlugins`: check the bin dir, read and validate the
/// config, check each executable; providers in config order.
/// `sa_token_gate`: the kubelet's `KubeletServiceAccountTokenForCredentialProviders` feature
/// gate (on by default since 1.34): off, `tokenAttributes` is a validation error.
pub fn load_plugins(
    config_path: &Path,
    bin_dir: &Path,
    sa_token_gate: bool,
) -> Result<Vec<Arc<PluginProvider>>, CredentialsError> {
    load_plugins_with(bin_dir, sa_token_gate, || {
        config::read_config(config_path, sa_token_gate)
    })
}

/// [`load_plugins`] with the config given as text (`--provider-config -`: standard input,
/// named `origin` in errors).
pub fn load_plugins_from_text(
    text: &str,
    origin: &Path,
    bin_dir: &Path,
    sa_token_gate: bool,
) -> Result<Vec<Arc<PluginProvider>>, CredentialsError> {
    load_plugins_with(bin_dir, sa_token_gate, || {
        config::parse_configs(
            &[(origin.to_path_buf(), text.to_string())],
            origin,
            sa_token_gate,
        )
    })
}

fn load_plugins_with(
    bin_dir: &Path,
    sa_token_gate: bool,
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
        out.push(Arc::new(
            PluginProvider::new(cfg, bin_dir).with_service_account_tokens(sa_token_gate),
        ));
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
