//! Where agents put their token: `Authorization: Bearer <token>` (OpenAI
//! clients, and the Anthropic SDK since 2.x) or `x-api-key: <token>` (older
//! Anthropic clients and some agents).

use axum::http::HeaderMap;

/// The credential an agent presented, as sent (not trimmed: a stray space or
/// line break is a mistake the user should hear about, not something to hide).
pub fn presented(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let api_key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    bearer.or(api_key).filter(|t| !t.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        h
    }

    #[test]
    fn bearer_then_x_api_key() {
        assert_eq!(presented(&headers(&[("authorization", "Bearer abc")])).as_deref(), Some("abc"));
        assert_eq!(presented(&headers(&[("x-api-key", "xyz")])).as_deref(), Some("xyz"));
        assert_eq!(presented(&headers(&[("authorization", "Bearer a"), ("x-api-key", "b")])).as_deref(), Some("a"));
        assert_eq!(presented(&headers(&[("authorization", "Basic abc")])), None);
        assert_eq!(presented(&headers(&[("authorization", "Bearer ")])), None);
        assert_eq!(presented(&HeaderMap::new()), None);
    }
}
