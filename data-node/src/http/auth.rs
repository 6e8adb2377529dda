//! Authentication for the HTTP API, as InfluxDB 1.x does it: credentials
//! from `u`/`p` query parameters or HTTP Basic auth, checked against the
//! bcrypt hashes in the metastore. Successful checks are cached (keyed by
//! user, password digest and stored hash), because bcrypt is slow by design.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use proto::meta;

use crate::meta_client::MetaView;

/// Credentials found in a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Why authentication failed (InfluxDB's texts, all 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials at all.
    #[error("unable to parse authentication credentials")]
    Missing,
    /// Empty user name.
    #[error("username required")]
    UsernameRequired,
    /// Unknown user or wrong password.
    #[error("authorization failed")]
    Failed,
}

/// Reads `u`/`p` parameters, else an `Authorization: Basic` header.
pub fn credentials(params: &HashMap<String, String>, headers: &HeaderMap) -> Option<Credentials> {
    if let Some(u) = params.get("u") {
        return Some(Credentials {
            username: u.clone(),
            password: params.get("p").cloned().unwrap_or_default(),
        });
    }
    let h = headers.get("authorization")?.to_str().ok()?;
    let b64 = h.strip_prefix("Basic ").or_else(|| h.strip_prefix("basic "))?;
    let decoded = base64_decode(b64.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some(Credentials { username: u.to_string(), password: p.to_string() })
}

/// A tiny standard base64 decoder (only Basic auth needs it; not worth a
/// dependency).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a' + 26) as u32,
            b'0'..=b'9' => (c - b'0' + 52) as u32,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    }
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// Checks passwords, caching successes.
#[derive(Default)]
pub struct Authenticator {
    cache: Mutex<HashMap<(String, u64), String>>,
}

fn digest(s: &str) -> u64 {
    crate::coordinator::fnv64a(s.as_bytes())
}

impl Authenticator {
    /// Authenticates `creds` against the users of `view`.
    pub fn authenticate(
        &self,
        view: &MetaView,
        creds: &Credentials,
    ) -> Result<meta::UserInfo, AuthError> {
        if creds.username.is_empty() {
            return Err(AuthError::UsernameRequired);
        }
        let user = view.user(&creds.username).ok_or(AuthError::Failed)?;
        let key = (creds.username.clone(), digest(&creds.password));
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.get(&key).is_some_and(|h| *h == user.hash) {
                return Ok(user.clone());
            }
        }
        match bcrypt::verify(&creds.password, &user.hash) {
            Ok(true) => {
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                cache.insert(key, user.hash.clone());
                Ok(user.clone())
            }
            _ => Err(AuthError::Failed),
        }
    }
}

/// InfluxQL privilege values (`influxql.Privilege`).
pub mod privilege {
    /// No privilege.
    pub const NONE: i32 = 0;
    /// READ.
    pub const READ: i32 = 1;
    /// WRITE.
    pub const WRITE: i32 = 2;
    /// ALL.
    pub const ALL: i32 = 3;
}

/// Whether `user` may write to `db`.
pub fn can_write(user: &meta::UserInfo, db: &str) -> bool {
    user.admin
        || user.privileges.iter().any(|p| {
            p.database == db && (p.privilege == privilege::WRITE || p.privilege == privilege::ALL)
        })
}

/// Whether `user` may read `db`.
pub fn can_read(user: &meta::UserInfo, db: &str) -> bool {
    user.admin
        || user.privileges.iter().any(|p| {
            p.database == db && (p.privilege == privilege::READ || p.privilege == privilege::ALL)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_header_is_decoded() {
        let mut h = HeaderMap::new();
        h.insert("authorization", "Basic YWRtaW46QWRtMW4tcEBzcw==".parse().unwrap());
        let c = credentials(&HashMap::new(), &h).unwrap();
        assert_eq!(c, Credentials { username: "admin".into(), password: "Adm1n-p@ss".into() });
    }
}
