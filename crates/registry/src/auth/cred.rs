//! A credential as the registry client uses it (from a kubelet/docker `AuthConfig`).

use base64::Engine as _;
use reqwest::header::HeaderValue;
use sha2::{Digest as _, Sha256};

use crate::error::RegistryError;

/// A credential as the registry client uses it. `Debug` shows the username only.
#[derive(Clone, Default)]
pub(crate) struct Cred {
    pub username: String,
    pub password: String,
    /// `identitytoken`: an OAuth2 refresh token exchanged at the token endpoint.
    pub identity_token: Option<String>,
    /// `registrytoken`: a bearer token sent to the registry as is.
    pub registry_token: Option<String>,
}

impl std::fmt::Debug for Cred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cred")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl Cred {
    /// From a kubelet/docker `AuthConfig`. `auth` (base64 `user:pass`) fills username and
    /// password when they are empty, as docker's config file loader does.
    pub(crate) fn from_auth(a: &pullsim_credentials::AuthConfig) -> Cred {
        let mut username = a.username.clone();
        let mut password = a.password.expose().to_string();
        if username.is_empty()
            && password.is_empty()
            && let Some(auth) = &a.auth
            && let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(auth.expose())
            && let Ok(s) = String::from_utf8(raw)
            && let Some((u, p)) = s.split_once(':')
        {
            username = u.to_string();
            password = p.to_string();
        }
        let nonempty = |s: Option<&pullsim_credentials::Secret>| {
            s.map(|s| s.expose().to_string()).filter(|s| !s.is_empty())
        };
        Cred {
            username,
            password,
            identity_token: nonempty(a.identity_token.as_ref()),
            registry_token: nonempty(a.registry_token.as_ref()),
        }
    }

    /// A short hash identifying the credential (never the secret itself).
    pub(crate) fn id(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            self.username.as_str(),
            self.password.as_str(),
            self.identity_token.as_deref().unwrap_or(""),
            self.registry_token.as_deref().unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        hex::encode(&h.finalize()[..12])
    }

    /// `Basic base64(user:pass)`, marked sensitive.
    pub(crate) fn basic_header(&self) -> Result<HeaderValue, RegistryError> {
        let enc = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", self.username, self.password));
        let mut v =
            HeaderValue::from_str(&format!("Basic {enc}")).map_err(|_| RegistryError::Config {
                message: "credential not representable in an HTTP header".to_string(),
            })?;
        v.set_sensitive(true);
        Ok(v)
    }
}
