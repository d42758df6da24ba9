//! CRI's `ParseAuth` (`internal/cri/server/images/image_pull.go@v2.3.4`): the user name and
//! secret an `AuthConfig` gives for the host being contacted.

use pullsim_credentials::auth::go_base64_decode;
use pullsim_credentials::{AuthConfig, Secret};

use super::error::ParseAuthError;

/// `ParseAuth(auth, host)`: `None` auth → anonymous (`("", "")`); a `server_address` whose
/// host is not `host` → anonymous; else `username`+`password`, or `("", identity_token)`, or
/// the `auth` field (padded standard base64 of `user:password`, NULs trimmed from the
/// password), else anonymous.
pub fn parse_auth(
    auth: Option<&AuthConfig>,
    host: &str,
) -> Result<(String, Secret), ParseAuthError> {
    let anonymous = || Ok((String::new(), Secret::default()));
    let Some(auth) = auth else {
        return anonymous();
    };
    if let Some(server) = auth.server_address.as_deref().filter(|s| !s.is_empty()) {
        let url_host = server_address_host(server)?;
        if url_host != host {
            return anonymous();
        }
    }
    if !auth.username.is_empty() {
        return Ok((auth.username.clone(), auth.password.clone()));
    }
    if let Some(token) = auth.identity_token.as_ref().filter(|t| !t.is_empty()) {
        return Ok((String::new(), token.clone()));
    }
    if let Some(field) = auth.auth.as_ref().filter(|a| !a.is_empty()) {
        let decoded = go_base64_decode(field.expose(), true)
            .map_err(|message| ParseAuthError::Base64 { message })?;
        let text = String::from_utf8_lossy(&decoded);
        let Some((user, pass)) = text.split_once(':') else {
            return Err(ParseAuthError::NoColon);
        };
        return Ok((user.to_string(), Secret::new(pass.trim_matches('\0'))));
    }
    anonymous()
}

/// `url.Parse(serverAddress).Host`: empty for a value without `//` (e.g. `registry.io`, which
/// then matches no host).
/// Whether `ParseAuth` gives `auth` to `host`: yes unless its `ServerAddress` names another
/// host (or does not parse).
pub fn offered_to(auth: &AuthConfig, host: &str) -> bool {
    match auth.server_address.as_deref().filter(|s| !s.is_empty()) {
        None => true,
        Some(server) => server_address_host(server).is_ok_and(|h| h == host),
    }
}

fn server_address_host(server: &str) -> Result<String, ParseAuthError> {
    pullsim_credentials::gourl::parse(server)
        .map(|u| u.host)
        .map_err(|e| ParseAuthError::ServerAddress {
            reason: e.to_string(),
        })
}
