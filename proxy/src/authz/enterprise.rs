//! enterprise mode: one call to the company's authorization API per login.
//! `POST api_url` with `{"user_id", "user_email", "provider", "client_ip",
//! "timestamp"}`, signed with `X-Signature` (hex HMAC-SHA256 of the body) when
//! `api_secret` is set. Only HTTP 200 with a JSON boolean `authorized: true`
//! grants access; everything else denies, with a message naming what happened.

use crate::config::Secret;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use std::time::Duration;

/// The API's decision, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// `authorized: false`, with the API's `reason`.
    Denied(Option<String>),
    /// No usable answer: access is denied. Decisions hang on the variant, never on the wording.
    Failed(Failure),
}

/// Why the API gave no usable answer; `Display` is the message the log and the guide use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("Authorization API timeout")]
    Timeout,
    #[error("Failed to connect to authorization API: {0}")]
    Connect(String),
    /// A status other than 200 (401/403: the API refuses the proxy's signature).
    #[error("Authorization API error: HTTP {0}")]
    Status(u16),
    #[error("Authorization API error: the reply is not JSON")]
    NotJson,
    #[error("Authorization API error: `authorized` must be a JSON boolean, got {0}")]
    NotBoolean(String),
    #[error("Authorization API error: the reply has no `authorized` field")]
    NoDecision,
    #[error("Authorization API error: {0}")]
    Transport(String),
}

pub struct Request<'a> {
    pub user_id: &'a str,
    pub user_email: &'a str,
    pub provider: &'a str,
    pub client_ip: &'a str,
    /// RFC 3339 UTC.
    pub timestamp: String,
}

pub async fn authorize(
    http: &reqwest::Client,
    url: &str,
    secret: Option<&Secret>,
    timeout: Duration,
    request: &Request<'_>,
) -> Decision {
    let body = json!({
        "user_id": request.user_id,
        "user_email": request.user_email,
        "provider": request.provider,
        "client_ip": request.client_ip,
        "timestamp": request.timestamp,
    })
    .to_string();
    let mut call = http.post(url).timeout(timeout).header("content-type", "application/json");
    if let Some(secret) = secret {
        call = call.header("x-signature", sign(secret.expose().as_bytes(), body.as_bytes()));
    }
    let response = match call.body(body).send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Decision::Failed(Failure::Timeout),
        Err(e) if e.is_connect() => return Decision::Failed(Failure::Connect(e.to_string())),
        Err(e) => return Decision::Failed(Failure::Transport(e.to_string())),
    };
    let status = response.status();
    let text = match crate::outbound::read_bounded(response, crate::outbound::MAX_RESPONSE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.is_timeout() => return Decision::Failed(Failure::Timeout),
        Err(e) => return Decision::Failed(Failure::Transport(e.to_string())),
    };
    if status != reqwest::StatusCode::OK {
        return Decision::Failed(Failure::Status(status.as_u16()));
    }
    parse(&text)
}

/// Strict reading of a 200 body: only a JSON boolean counts.
pub fn parse(text: &str) -> Decision {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return Decision::Failed(Failure::NotJson);
    };
    let reason = value.get("reason").and_then(Value::as_str).map(str::to_string);
    match value.get("authorized") {
        Some(Value::Bool(true)) => Decision::Allowed,
        Some(Value::Bool(false)) => Decision::Denied(reason),
        Some(other) => Decision::Failed(Failure::NotBoolean(other.to_string())),
        None => Decision::Failed(Failure::NoDecision),
    }
}

fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    crate::tokens::hex_lower(&mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_json_boolean_counts() {
        assert_eq!(parse(r#"{"authorized": true}"#), Decision::Allowed);
        assert_eq!(parse(r#"{"authorized": false, "reason": "nope"}"#), Decision::Denied(Some("nope".into())));
        for bad in [
            r#"{"authorized": "true"}"#,
            r#"{"authorized": "false"}"#,
            r#"{"authorized": 1}"#,
            "{}",
            "{\"authorized\": tru",
            "[]",
        ] {
            assert!(
                matches!(parse(bad), Decision::Failed(m) if m.to_string().starts_with("Authorization API error")),
                "{bad}"
            );
        }
    }

    #[test]
    fn signature_is_rfc4231() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
