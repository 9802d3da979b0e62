//! The OIDC surface: one catch-all route per issuer prefix, dispatched to the
//! endpoint that issuer's layout names. Faults (delay, error status, malformed
//! JSON) are applied here, in one place, before and around the endpoint logic.

use crate::App;
use crate::authorize::{self, Outcome};
use crate::config::IssuerKind;
use crate::faults::{Endpoint, Faults};
use crate::issuers::{ErrorPage, Layout};
use crate::journal::{JournalEntry, redact_headers, redact_params};
use crate::token::{self, OAuthError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Largest request body any endpoint reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// `/{issuer}/{*rest}`
pub async fn issuer_endpoint(
    State(app): State<Arc<App>>,
    Path((issuer, rest)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((kind, faults)) = app.idp.lock().issuers.get(&issuer).map(|i| (i.kind, i.faults.clone())) else {
        return json_error(StatusCode::NOT_FOUND, "not_found", &format!("No issuer named '{issuer}' here."));
    };
    let Some(route) = crate::issuers::route(kind, &rest) else {
        return json_error(StatusCode::NOT_FOUND, "not_found", "No such endpoint for this issuer.");
    };
    let query = parse_params(uri.query().unwrap_or_default());
    let form = if method == Method::POST {
        std::str::from_utf8(&body).map_err(|_| ()).and_then(parse_params)
    } else {
        Ok(HashMap::new())
    };

    let (query, form) = match (query, form) {
        (Ok(query), Ok(form)) => (query, form),
        _ => return json_error(StatusCode::BAD_REQUEST, "invalid_request", "Malformed or repeated parameters."),
    };
    if faults.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.delay_ms)).await;
    }
    let response = match faults.http_status.get(&route.endpoint) {
        Some(&status) => injected_status(status),
        None => {
            let call = Call { app: &app, issuer: &issuer, kind, tenant: route.tenant.as_deref(), faults: &faults };
            call.endpoint(route.endpoint, &method, &headers, &query, &form)
        }
    };
    let mut response = response;
    // The provider's own clock, as a relying party sees it: shifted with the clock offset.
    let now = std::time::UNIX_EPOCH + Duration::from_secs(app.idp.now().max(0) as u64);
    if let Ok(date) = HeaderValue::from_str(&httpdate::fmt_http_date(now)) {
        response.headers_mut().insert(header::DATE, date);
    }
    app.journal.record(JournalEntry {
        at: app.idp.now(),
        method: method.to_string(),
        path: uri.path().to_string(),
        issuer: Some(issuer),
        endpoint: Some(route.endpoint),
        query: redact_params(&query),
        form: redact_params(&form),
        headers: redact_headers(&headers),
        status: response.status().as_u16(),
    });
    response
}

/// One request to one issuer, with what every endpoint needs.
struct Call<'a> {
    app: &'a App,
    issuer: &'a str,
    kind: IssuerKind,
    tenant: Option<&'a str>,
    faults: &'a Faults,
}

impl Call<'_> {
    fn endpoint(
        &self,
        endpoint: Endpoint,
        method: &Method,
        headers: &HeaderMap,
        query: &HashMap<String, String>,
        form: &HashMap<String, String>,
    ) -> Response {
        let allowed = match endpoint {
            Endpoint::Discovery | Endpoint::Jwks | Endpoint::Authorize => method == Method::GET,
            Endpoint::Login | Endpoint::Token => method == Method::POST,
            Endpoint::Userinfo => method == Method::GET || method == Method::POST,
        };
        if !allowed {
            return json_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request", "Method not allowed here.");
        }
        let root = self.app.idp.issuer_root(self.issuer);
        let layout = Layout { kind: self.kind, root: &root };
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        match endpoint {
            Endpoint::Discovery => {
                let mut document = layout.discovery(self.tenant);
                if let (Some(issuer), Some(fields)) = (&self.faults.discovery_issuer, document.as_object_mut()) {
                    fields.insert("issuer".into(), Value::String(issuer.clone()));
                }
                self.json(endpoint, document)
            }
            Endpoint::Jwks => {
                let jwks = self.app.idp.lock().issuers.get(self.issuer).map(|i| i.keys.jwks()).unwrap_or(Value::Null);
                self.json(endpoint, jwks)
            }
            Endpoint::Authorize => {
                let outcome = authorize::authorize(&self.app.idp, self.issuer, self.kind, self.tenant, query);
                self.browser(outcome, &layout)
            }
            Endpoint::Login => self.browser(authorize::login(&self.app.idp, self.issuer, self.kind, form), &layout),
            Endpoint::Token => match token::exchange(&self.app.idp, self.issuer, self.kind, authorization, form) {
                Ok(body) => no_store(self.json(endpoint, body)),
                Err(e) => no_store(oauth_error(&e)),
            },
            Endpoint::Userinfo => match token::userinfo(&self.app.idp, self.issuer, self.kind, authorization) {
                Ok(body) => self.json(endpoint, body),
                Err(e) => {
                    let mut response = oauth_error(&e);
                    let challenge = format!("Bearer error=\"{}\", error_description=\"{}\"", e.error, e.description);
                    if let Ok(value) = HeaderValue::from_str(&challenge) {
                        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
                    }
                    response
                }
            },
        }
    }

    /// A JSON answer, or a truncated one when the malformed-JSON fault is on.
    fn json(&self, endpoint: Endpoint, body: Value) -> Response {
        if token::malformed(self.faults, endpoint) {
            let text = body.to_string();
            let cut = &text[..text.len() / 2];
            return ([(header::CONTENT_TYPE, "application/json")], cut.to_string()).into_response();
        }
        axum::Json(body).into_response()
    }

    fn browser(&self, outcome: Outcome, layout: &Layout<'_>) -> Response {
        match outcome {
            Outcome::Redirect(url) => match HeaderValue::from_str(&url) {
                // 302 Found, as real providers answer (not axum's 303).
                Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
                Err(_) => json_error(StatusCode::BAD_REQUEST, "invalid_request", "Unusable redirect URI."),
            },
            Outcome::ErrorPage(page) => self.error_page(&page),
            Outcome::LoginPage { request_id, users, client_id } => {
                let action = layout.url(Endpoint::Login, None);
                match self.app.pages.login(self.kind, layout.root, &action, &request_id, &client_id, &users) {
                    Ok(html) => no_store(Html(html).into_response()),
                    Err(e) => internal(&e),
                }
            }
        }
    }

    fn error_page(&self, page: &ErrorPage) -> Response {
        let status = StatusCode::from_u16(page.status).unwrap_or(StatusCode::BAD_REQUEST);
        match self.app.pages.error(self.kind, page) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => internal(&e),
        }
    }
}

/// Parses `a=1&b=2`; a repeated parameter is an error (RFC 6749 3.1).
fn parse_params(text: &str) -> Result<HashMap<String, String>, ()> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text).map_err(|_| ())?;
    let mut map = HashMap::with_capacity(pairs.len());
    for (k, v) in pairs {
        if map.insert(k, v).is_some() {
            return Err(());
        }
    }
    Ok(map)
}

fn injected_status(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_error(code, "server_error", &format!("Injected fault: HTTP {status}."))
}

fn oauth_error(e: &OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, axum::Json(e.body())).into_response()
}

pub fn json_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

fn internal(e: &minijinja::Error) -> Response {
    tracing::error!("template error: {e}");
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", "Page rendering failed.")
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_reject_repeats_and_decode() {
        assert_eq!(parse_params("a=1&b=x+y").unwrap()["b"], "x y");
        assert!(parse_params("a=1&a=2").is_err());
        assert!(parse_params("").unwrap().is_empty());
    }
}
