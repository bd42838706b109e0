//! Who is calling: a bearer JWT (HS256 secret, or RS256/ES256 public key; expiry,
//! issuer and audience checked) or a static API key (as a bearer token or `X-API-Key`).
//! The tenant it names scopes every job the caller can see or touch. Rejections say
//! what is wrong with the credential, never echo it.

use super::config::{AuthConfig, JwtConfig};
use super::error::ApiError;
use axum::http::HeaderMap;
use jsonwebtoken::{DecodingKey, Validation};
use sha2::{Digest, Sha256};

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Whose jobs these are.
    pub tenant: String,
    /// Who within the tenant (the rate limit's key): `jwt:<sub>` or `key:<n>`.
    pub principal: String,
}

/// Longest tenant name accepted from a credential (it becomes part of keys and rows).
const MAX_TENANT_LEN: usize = 200;

/// Verifies credentials.
pub struct Authenticator {
    jwt: Option<(JwtConfig, DecodingKey, Validation)>,
    /// (tenant, SHA-256 of the key): keys are compared by digest, so the comparison's
    /// timing says nothing about the key.
    keys: Vec<(String, [u8; 32])>,
    disabled: bool,
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

impl Authenticator {
    /// Built from a checked configuration (keys were validated at start).
    pub fn new(cfg: &AuthConfig) -> anyhow::Result<Authenticator> {
        let jwt = match &cfg.jwt {
            Some(j) => {
                let key = match j.algorithm {
                    jsonwebtoken::Algorithm::HS256 => DecodingKey::from_secret(j.key.as_bytes())?,
                    jsonwebtoken::Algorithm::ES256 => DecodingKey::from_ec_pem(j.key.as_bytes())?,
                    _ => DecodingKey::from_rsa_pem(j.key.as_bytes())?,
                };
                let mut v = Validation::new(j.algorithm);
                v.leeway = 30;
                // A token whose `nbf` lies ahead (beyond the leeway) is not valid yet.
                v.validate_nbf = true;
                if let Some(iss) = &j.issuer {
                    v.set_issuer(&[iss]);
                }
                match &j.audience {
                    Some(aud) => v.set_audience(&[aud]),
                    None => v.validate_aud = false,
                }
                Some((j.clone(), key, v))
            }
            None => None,
        };
        Ok(Authenticator { jwt, keys: cfg.api_keys.iter().map(|(t, k)| (t.clone(), digest(k))).collect(), disabled: cfg.disabled })
    }

    /// The caller behind a request's headers, or 401 saying what is missing or wrong.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let bearer = headers.get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim);
        let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim);
        let presented = match (bearer, api_key) {
            (Some(b), _) => match b.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Some(token.trim()),
                _ => return Err(ApiError::unauthorized("the Authorization header must be `Bearer <token>`")),
            },
            (None, Some(k)) if !k.is_empty() => Some(k),
            _ => None,
        };
        let Some(token) = presented else {
            if self.disabled {
                return Ok(Caller { tenant: "local".into(), principal: "local".into() });
            }
            return Err(ApiError::unauthorized("missing credentials: send `Authorization: Bearer <token>` or `X-API-Key: <key>`"));
        };
        let d = digest(token);
        if let Some((i, (tenant, _))) = self.keys.iter().enumerate().find(|(_, (_, k))| *k == d) {
            return Ok(Caller { tenant: tenant.clone(), principal: format!("key:{i}") });
        }
        match &self.jwt {
            Some((cfg, key, validation)) if token.matches('.').count() == 2 => verify_jwt(token, cfg, key, validation),
            Some(_) => Err(ApiError::unauthorized("the credential is neither a known API key nor a JWT")),
            None => Err(ApiError::unauthorized("unknown API key")),
        }
    }
}

fn verify_jwt(token: &str, cfg: &JwtConfig, key: &DecodingKey, validation: &Validation) -> Result<Caller, ApiError> {
    use jsonwebtoken::errors::ErrorKind;
    let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, validation).map_err(|e| {
        let why = match e.kind() {
            ErrorKind::ExpiredSignature => "the token has expired".to_string(),
            ErrorKind::InvalidIssuer => "the token's issuer is not accepted".to_string(),
            ErrorKind::InvalidAudience => "the token's audience is not accepted".to_string(),
            ErrorKind::InvalidSignature => "the token's signature does not verify".to_string(),
            ErrorKind::InvalidAlgorithm => format!("the token is not signed with {:?}", cfg.algorithm),
            ErrorKind::MissingRequiredClaim(c) => format!("the token has no `{c}` claim"),
            ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_string(),
            _ => "the token is not a valid JWT".to_string(),
        };
        ApiError::unauthorized(why)
    })?;
    let claims = data.claims;
    let text = |k: &str| claims.get(k).and_then(|v| v.as_str()).map(str::to_string).filter(|s| !s.is_empty());
    let sub = text("sub");
    let tenant = text(&cfg.tenant_claim).or_else(|| sub.clone()).ok_or_else(|| ApiError::unauthorized(format!("the token names no tenant (no `{}` or `sub` claim)", cfg.tenant_claim)))?;
    if tenant.len() > MAX_TENANT_LEN {
        return Err(ApiError::unauthorized(format!("the token's tenant is longer than {MAX_TENANT_LEN} characters")));
    }
    Ok(Caller { principal: format!("jwt:{}", sub.unwrap_or_else(|| tenant.clone())), tenant })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use serde_json::json;

    /// An EC P-256 key pair as PEM (private PKCS#8, public SPKI), made by `openssl`.
    fn es256_keys() -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let (private, public) = (dir.path().join("k.pem"), dir.path().join("p.pem"));
        let ok = std::process::Command::new("openssl").args(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out"]).arg(&private).status().expect("openssl is installed");
        assert!(ok.success());
        assert!(std::process::Command::new("openssl").args(["pkey", "-pubout", "-in"]).arg(&private).arg("-out").arg(&public).status().unwrap().success());
        (std::fs::read_to_string(private).unwrap(), std::fs::read_to_string(public).unwrap())
    }

    fn headers(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
        h
    }

    #[test]
    fn es256_tokens_verify_against_the_public_key_with_audience_checked() {
        let (private, public) = es256_keys();
        let cfg = AuthConfig {
            jwt: Some(JwtConfig { algorithm: jsonwebtoken::Algorithm::ES256, key: public, issuer: None, audience: Some("planmap".into()), tenant_claim: "org".into() }),
            api_keys: vec![],
            disabled: false,
        };
        let auth = Authenticator::new(&cfg).unwrap();
        let exp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600;
        let sign = |claims: serde_json::Value| jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256), &claims, &jsonwebtoken::EncodingKey::from_ec_pem(private.as_bytes()).unwrap()).unwrap();
        let caller = auth.authenticate(&headers(&sign(json!({"sub": "ci-bot", "org": "acme", "aud": "planmap", "exp": exp})))).unwrap();
        assert_eq!((caller.tenant.as_str(), caller.principal.as_str()), ("acme", "jwt:ci-bot"));
        let wrong_aud = auth.authenticate(&headers(&sign(json!({"sub": "ci-bot", "org": "acme", "aud": "other", "exp": exp})))).unwrap_err();
        assert!(wrong_aud.message.contains("audience"), "{}", wrong_aud.message);
        // An HS256 token signed with the public key text (the classic confusion attack).
        let forged = jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), &json!({"org": "acme", "aud": "planmap", "exp": exp}), &jsonwebtoken::EncodingKey::from_secret(b"whatever").unwrap()).unwrap();
        assert_eq!(auth.authenticate(&headers(&forged)).unwrap_err().status, axum::http::StatusCode::UNAUTHORIZED);
        // A token that is not valid yet (`nbf` an hour ahead, past the leeway).
        let early = auth.authenticate(&headers(&sign(json!({"sub": "ci-bot", "org": "acme", "aud": "planmap", "exp": exp + 3600, "nbf": exp + 3000})))).unwrap_err();
        assert!(early.message.contains("not valid yet"), "{}", early.message);
    }

    #[test]
    fn api_keys_map_to_their_tenant_and_malformed_headers_are_refused() {
        let cfg = AuthConfig { jwt: None, api_keys: vec![("acme".into(), "k-0123456789abcdef".into())], disabled: false };
        let auth = Authenticator::new(&cfg).unwrap();
        assert_eq!(auth.authenticate(&headers("k-0123456789abcdef")).unwrap().tenant, "acme");
        let mut h = HeaderMap::new();
        h.insert("x-api-key", HeaderValue::from_static("k-0123456789abcdef"));
        assert_eq!(auth.authenticate(&h).unwrap().tenant, "acme");
        let mut h = HeaderMap::new();
        h.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert!(auth.authenticate(&h).unwrap_err().message.contains("Bearer"));
    }
}
