//! What the journal (a bounded `mock_server::Journal`) keeps of each request, for
//! tests to assert on ("the proxy sent PKCE", "it used client_secret_basic").
//! Secrets are redacted before they are stored, so a journal can be printed in a
//! failure report.

use crate::faults::Endpoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Entries kept; older ones are dropped first.
pub const CAPACITY: usize = 1000;

const SECRET_FIELDS: &[&str] =
    &["client_secret", "code", "code_verifier", "access_token", "id_token", "refresh_token", "password"];
const SECRET_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];
pub const REDACTED: &str = "[redacted]";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JournalEntry {
    /// Seconds since the epoch (mock clock).
    pub at: i64,
    pub method: String,
    pub path: String,
    pub issuer: Option<String>,
    pub endpoint: Option<Endpoint>,
    pub query: BTreeMap<String, String>,
    pub form: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub status: u16,
}

/// Form or query parameters with secret values replaced.
pub fn redact_params<'a>(params: impl IntoIterator<Item = (&'a String, &'a String)>) -> BTreeMap<String, String> {
    params
        .into_iter()
        .map(|(k, v)| {
            let value = if SECRET_FIELDS.contains(&k.as_str()) { REDACTED.to_string() } else { v.clone() };
            (k.clone(), value)
        })
        .collect()
}

/// Headers with credentials replaced; for `Authorization` the scheme is kept
/// (`Basic [redacted]`) so tests can tell which client authentication was used.
pub fn redact_headers(headers: &axum::http::HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes()).to_string();
            let shown = if SECRET_HEADERS.contains(&name.as_str()) {
                match text.split_once(' ') {
                    Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                    None => REDACTED.to_string(),
                }
            } else {
                text
            };
            (name.as_str().to_string(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let (k1, v1, k2, v2) =
            ("client_secret".to_string(), "s3cret".to_string(), "scope".to_string(), "openid".to_string());
        let params = redact_params([(&k1, &v1), (&k2, &v2)]);
        assert_eq!(params["client_secret"], REDACTED);
        assert_eq!(params["scope"], "openid");
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("authorization", "Basic YTpi".parse().unwrap());
        assert_eq!(redact_headers(&headers)["authorization"], "Basic [redacted]");
    }
}
