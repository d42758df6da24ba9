//! Key material made by the tests: the token signing key with its certificate (token mode) and a
//! CA plus a server certificate for 127.0.0.1 / localhost (TLS).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SanType,
};
use sha2::{Digest, Sha256};

use crate::RegistryError;

fn cert_err(what: &'static str) -> impl Fn(rcgen::Error) -> RegistryError {
    move |e| RegistryError::Certificate {
        what,
        reason: e.to_string(),
    }
}

/// The libtrust key id of a public key given as SubjectPublicKeyInfo DER: base32 (RFC 4648, no
/// padding) of the first 30 bytes of sha256(SPKI), in 12 groups of 4 characters joined by `:`.
///
/// This is the `kid` distribution 2.8's token authenticator accepts (it looks the key up by the
/// id of each certificate in `rootcertbundle`; docker/libtrust `keyIDFromCryptoKey`).
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let sum = Sha256::digest(spki_der);
    let encoded = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &sum[..30]);
    let groups: Vec<&str> = encoded
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    groups.join(":")
}

/// The ES256 key the token server signs with, and its self-signed certificate (the registry's
/// `auth.token.rootcertbundle`).
pub struct TokenKey {
    signing_key: SigningKey,
    /// The libtrust key id of the public key (the JWT header's `kid`).
    pub kid: String,
    /// The certificate in PEM.
    pub cert_pem: String,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// A fresh P-256 key and a self-signed certificate for it.
    pub fn generate() -> Result<Self, RegistryError> {
        let key_pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(cert_err("token signing key"))?;
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(cert_err("token certificate"))?;
        params.distinguished_name = dn("pullsim test token issuer");
        let cert = params
            .self_signed(&key_pair)
            .map_err(cert_err("token certificate"))?;
        let signing_key = SigningKey::from_pkcs8_der(&key_pair.serialize_der()).map_err(|e| {
            RegistryError::Certificate {
                what: "token signing key",
                reason: format!("PKCS#8 import: {e}"),
            }
        })?;
        Ok(TokenKey {
            signing_key,
            kid: libtrust_key_id(&key_pair.subject_public_key_info()),
            cert_pem: cert.pem(),
        })
    }

    /// A compact JWS (`header.claims.signature`) over `claims` with header
    /// `{"typ":"JWT","alg":"ES256","kid":...}` and a raw `r||s` signature.
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> String {
        let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature: Signature = self.signing_key.sign(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }
}

/// A test CA and a server certificate for `127.0.0.1`, `::1` and `localhost` signed by it.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// The CA certificate (PEM).
    pub ca_pem: String,
    /// The server certificate (PEM).
    pub server_cert_pem: String,
    /// The server's private key (PKCS#8 PEM).
    pub server_key_pem: String,
}

impl TlsMaterial {
    /// Makes a fresh CA and server certificate.
    pub fn generate() -> Result<Self, RegistryError> {
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err("CA key"))?;
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).map_err(cert_err("CA certificate"))?;
        ca_params.distinguished_name = dn("pullsim test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params
            .self_signed(&ca_key)
            .map_err(cert_err("CA certificate"))?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err("server key"))?;
        let mut params = CertificateParams::new(vec!["localhost".to_string()])
            .map_err(cert_err("server certificate"))?;
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()));
        params
            .subject_alt_names
            .push(SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()));
        params.distinguished_name = dn("127.0.0.1");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = params
            .signed_by(&server_key, &issuer)
            .map_err(cert_err("server certificate"))?;
        Ok(TlsMaterial {
            ca_pem: ca_cert.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
        })
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_has_twelve_groups_of_four_base32_chars() {
        let kid = libtrust_key_id(b"anything");
        let groups: Vec<&str> = kid.split(':').collect();
        assert_eq!(groups.len(), 12);
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(
            kid.chars()
                .all(|c| c == ':' || c.is_ascii_uppercase() || ('2'..='7').contains(&c))
        );
    }

    /// docker/libtrust util.go `keyIDEncode` / `keyIDFromCryptoKey` (used by distribution v2.8.2
    /// registry/auth/token/token.go to look up `kid`): base32 of sha256(SPKI)[:30], 4-char groups.
    #[test]
    fn key_id_matches_libtrust_encoding() {
        // sha256("") = e3b0c442 98fc1c14 9afbf4c8 996fb924 27ae41e4 649b934c a495991b 7852b855;
        // base32 of its first 30 bytes, grouped as libtrust's keyIDEncode does.
        assert_eq!(
            libtrust_key_id(b""),
            "4OYM:IQUY:7QOB:JGX3:6TEJ:S35Z:EQT2:4QPE:MSNZ:GTFE:SWMR:W6CS"
        );
    }

    #[test]
    fn jwt_has_three_parts_and_es256_header() {
        let key = TokenKey::generate().unwrap();
        let jwt = key.sign_jwt(&serde_json::json!({"sub": "alice"}));
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], key.kid.as_str());
        assert_eq!(URL_SAFE_NO_PAD.decode(parts[2]).unwrap().len(), 64);
    }
}
