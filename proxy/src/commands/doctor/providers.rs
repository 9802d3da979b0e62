//! Checks of one identity provider, in the order a login meets them: the
//! discovery document, its issuer, the signing keys, the clock, the redirect
//! URI at the authorization endpoint, and the client credentials at the token
//! endpoint. The last two send requests that cannot sign anyone in: a browser's
//! first GET, and a code exchange with a code that does not exist (a provider
//! answers `invalid_client` before it looks at the code).

use super::subject::Subject;
use crate::commands::checks::Check;
use crate::config::Provider;
use crate::outbound::{MAX_RESPONSE_BYTES, read_bounded};
use serde_json::Value;
use std::time::SystemTime;

/// How far the clocks may drift before sign-ins suffer: the proxy refuses an
/// `iat` more than 300 s ahead; past a minute it is worth fixing already.
const SKEW_WARN: i64 = 60;
const SKEW_FAIL: i64 = 300;

/// What the discovery document says, as far as the checks need it.
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    /// The IdP's clock, from the `Date` header.
    date: Option<SystemTime>,
}

pub async fn examine(
    http: &reqwest::Client,
    name: &str,
    provider: &Provider,
    redirect_uri: &str,
    subject: &Subject<'_>,
) -> Vec<Check> {
    let id = |what: &str| format!("provider.{name}.{what}");
    let discovery = match discover(http, provider, subject).await {
        Ok(d) => d,
        Err(check) => {
            let check = Check { id: id("discovery"), ..check };
            let skipped = ["issuer", "jwks", "clock", "redirect_uri", "client"]
                .map(|what| Check::skip(id(what), "needs the discovery document"));
            return std::iter::once(check).chain(skipped).collect();
        }
    };
    // The checks below return their verdict with an empty id; the report names them here.
    let via = proxy_in_use(&provider.discovery_url, subject.env)
        .map(|p| format!(" (through the proxy {p})"))
        .unwrap_or_default();
    vec![
        Check::ok(id("discovery"), format!("{}{via}", provider.discovery_url)),
        Check { id: id("issuer"), ..issuer(provider, &discovery.issuer) },
        Check { id: id("jwks"), ..jwks(http, &discovery.jwks_uri).await },
        Check { id: id("clock"), ..clock(discovery.date) },
        Check { id: id("redirect_uri"), ..redirect_uri_accepted(http, provider, &discovery, redirect_uri).await },
        Check { id: id("client"), ..client_credentials(http, provider, &discovery, redirect_uri).await },
    ]
}

/// `HTTPS_PROXY` (or `HTTP_PROXY` for http URLs) as reqwest will use it, without its password.
fn proxy_in_use(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let names: &[&str] = if url.starts_with("https:") {
        &["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
    } else {
        &["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
    };
    let value = names.iter().find_map(|n| env(n).filter(|v| !v.is_empty()))?;
    Some(match url::Url::parse(&value) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "(unparsable)".to_string(),
    })
}

fn unreachable_fix(url: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let proxy = match proxy_in_use(url, env) {
        Some(p) => format!("the proxy {p} is in use: check it allows this host"),
        None => "behind a corporate proxy, set HTTPS_PROXY".to_string(),
    };
    format!("check DNS, the firewall and outbound HTTPS from this machine ({proxy}); then check the URL")
}

fn discovery_fix() -> &'static str {
    "set discovery_url to the issuer's document: Google \
     https://accounts.google.com/.well-known/openid-configuration; Microsoft \
     https://login.microsoftonline.com/<tenant>/v2.0/.well-known/openid-configuration"
}

async fn discover(http: &reqwest::Client, provider: &Provider, subject: &Subject<'_>) -> Result<Discovery, Check> {
    let url = &provider.discovery_url;
    let response = match http.get(url).send().await {
        Ok(r) => r,
        Err(e) => {
            let what = if e.is_timeout() { "no answer in time" } else { "cannot connect" };
            return Err(Check::fail(
                "",
                format!("{url}: {what}: {}", crate::outbound::describe(&e)),
                unreachable_fix(url, subject.env),
            ));
        }
    };
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    let status = response.status();
    if !status.is_success() {
        return Err(Check::fail("", format!("{url}: HTTP {}", status.as_u16()), discovery_fix()));
    }
    let body = match json_body(response).await {
        Ok(v) => v,
        Err(e) => return Err(Check::fail("", format!("{url}: not a JSON document: {e}"), discovery_fix())),
    };
    let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    match (field("issuer"), field("authorization_endpoint"), field("token_endpoint"), field("jwks_uri")) {
        (Some(issuer), Some(authorization_endpoint), Some(token_endpoint), Some(jwks_uri)) => {
            Ok(Discovery { issuer, authorization_endpoint, token_endpoint, jwks_uri, date })
        }
        _ => Err(Check::fail(
            "",
            format!("{url}: the document lacks issuer, authorization_endpoint, token_endpoint or jwks_uri"),
            discovery_fix(),
        )),
    }
}

/// A JSON body of at most [`MAX_RESPONSE_BYTES`].
async fn json_body(response: reqwest::Response) -> Result<Value, String> {
    let bytes = read_bounded(response, MAX_RESPONSE_BYTES).await.map_err(|e| crate::outbound::describe(&e))?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// OIDC Discovery §4.3: the issuer is the discovery URL minus the well-known
/// suffix. Entra's multi-tenant documents publish a `{tenantid}` template.
fn issuer(provider: &Provider, issuer: &str) -> Check {
    let expected = provider.discovery_url.trim_end_matches("/.well-known/openid-configuration");
    if issuer == expected {
        return Check::ok("", format!("issuer {issuer}"));
    }
    if issuer.contains("{tenantid}") {
        let prefix = issuer.split("{tenantid}").next().unwrap_or_default();
        if expected.starts_with(prefix) {
            return if provider.allowed_tenants.is_empty() {
                Check::warn(
                    "",
                    format!("multi-tenant issuer {issuer}: accounts of ANY Microsoft tenant can sign in"),
                    "list your directory (tenant) IDs in allowed_tenants, or use your tenant's discovery URL",
                )
            } else {
                Check::ok("", format!("multi-tenant issuer, tenants {}", provider.allowed_tenants.join(", ")))
            };
        }
    }
    Check::fail(
        "",
        format!("the document at {} names issuer {issuer}: every ID token would be refused", provider.discovery_url),
        format!("{}; a proxy that rewrites responses can also cause this", discovery_fix()),
    )
}

async fn jwks(http: &reqwest::Client, url: &str) -> Check {
    let fix = "the IdP publishes no usable keys here: check jwks_uri in its discovery document and the network";
    let response = match http.get(url).send().await {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => return Check::fail("", format!("{url}: HTTP {}", r.status().as_u16()), fix),
        Err(e) => return Check::fail("", format!("{url}: {}", crate::outbound::describe(&e)), fix),
    };
    let body = match json_body(response).await {
        Ok(v) => v,
        Err(e) => return Check::fail("", format!("{url}: not a JSON key set: {e}"), fix),
    };
    let signing: Vec<&str> = body
        .get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter(|k| k.get("use").and_then(Value::as_str) != Some("enc"))
                .filter(|k| matches!(k.get("kty").and_then(Value::as_str), Some("RSA" | "EC")))
                .map(|k| k.get("kid").and_then(Value::as_str).unwrap_or("(no kid)"))
                .collect()
        })
        .unwrap_or_default();
    if signing.is_empty() {
        return Check::fail("", format!("{url}: no RSA or EC signing key"), fix);
    }
    Check::ok(
        "",
        format!(
            "{} signing key{}: {}",
            signing.len(),
            crate::commands::checks::plural(signing.len()),
            signing.join(", ")
        ),
    )
}

/// Guide: "Check system time". Positive skew: this machine is ahead of the IdP.
fn clock(idp_date: Option<SystemTime>) -> Check {
    let Some(idp) = idp_date else {
        return Check::skip("", "the IdP sent no Date header");
    };
    let seconds = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let skew = seconds(SystemTime::now()) - seconds(idp);
    let direction = if skew > 0 { "ahead of" } else { "behind" };
    let detail = format!("this machine's clock is {}s {direction} the IdP's", skew.abs());
    let fix = "sync the clock with NTP (`timedatectl set-ntp true`, or `chronyc makestep`)";
    match skew.abs() {
        s if s <= SKEW_WARN => Check::ok("", format!("within {SKEW_WARN}s of the IdP's clock")),
        s if s <= SKEW_FAIL => Check::warn("", detail, fix),
        _ => Check::fail(
            "",
            format!("{detail}: ID tokens are refused as issued in the future or sessions end early"),
            fix,
        ),
    }
}

/// Error codes that mean "this redirect URI is not registered" and "no such client".
const REDIRECT_REFUSED: &[&str] = &["redirect_uri_mismatch", "AADSTS50011", "invalid_redirect_uri"];
const CLIENT_UNKNOWN: &[&str] = &["AADSTS700016", "invalid_client", "unauthorized_client", "deleted_client"];

/// Guide: "Redirect URI mismatch". A browser's first request to the IdP: it
/// refuses an unregistered redirect URI there, before any login.
async fn redirect_uri_accepted(
    http: &reqwest::Client,
    provider: &Provider,
    discovery: &Discovery,
    redirect_uri: &str,
) -> Check {
    let register = format!(
        "register exactly {redirect_uri} for client {} (Google: Credentials > OAuth client > Authorized redirect \
         URIs; Entra: App registrations > Authentication > Web), or set server.public_url to the URL browsers use",
        provider.client_id
    );
    let url = url::Url::parse_with_params(
        &discovery.authorization_endpoint,
        [
            ("response_type", "code"),
            ("client_id", provider.client_id.as_str()),
            ("redirect_uri", redirect_uri),
            ("scope", "openid email"),
            ("state", "llm-sso-proxy-doctor"),
            ("nonce", "llm-sso-proxy-doctor"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ],
    );
    let Ok(url) = url else {
        return Check::fail("", "the authorization endpoint is not a URL", discovery_fix());
    };
    let response = match http.get(url).send().await {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                "",
                format!("authorization endpoint: {}", crate::outbound::describe(&e)),
                "check the network to the IdP",
            );
        }
    };
    let status = response.status().as_u16();
    let location =
        response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let body = read_bounded(response, MAX_RESPONSE_BYTES).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body);
    let says = |codes: &[&'static str]| codes.iter().find(|c| body.contains(*c) || location.contains(*c)).copied();
    if let Some(code) = says(REDIRECT_REFUSED) {
        return Check::fail("", format!("the IdP refuses redirect URI {redirect_uri} ({code})"), register);
    }
    if let Some(code) = says(CLIENT_UNKNOWN) {
        return Check::fail(
            "",
            format!("the IdP does not know client_id {} ({code})", provider.client_id),
            "copy the client ID from the IdP's console (for Entra: the Application (client) ID of the right tenant)",
        );
    }
    if status >= 400 {
        return Check::warn("", format!("authorization endpoint answered HTTP {status}"), register);
    }
    let host = url::Url::parse(redirect_uri).ok().and_then(|u| u.host_str().map(str::to_string)).unwrap_or_default();
    let loopback = host == "localhost" || host.starts_with("127.") || host == "[::1]";
    if redirect_uri.starts_with("http:") && !loopback {
        return Check::warn(
            "",
            format!("{redirect_uri} is plain http on a non-loopback host: codes cross the network unencrypted"),
            "serve https (server.tls or a reverse proxy) and set server.public_url to the https URL",
        );
    }
    Check::ok("", format!("the IdP accepts {redirect_uri}"))
}

/// Guide: "Invalid client credentials". The probe code cannot be redeemed, so
/// a healthy answer is `invalid_grant`; `invalid_client` means the id/secret.
async fn client_credentials(
    http: &reqwest::Client,
    provider: &Provider,
    discovery: &Discovery,
    redirect_uri: &str,
) -> Check {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", "llm-sso-proxy-doctor-probe"),
        ("redirect_uri", redirect_uri),
        ("code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    ];
    let response = http
        .post(&discovery.token_endpoint)
        .basic_auth(encode(&provider.client_id), Some(encode(provider.client_secret.expose())))
        .form(&form)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            return Check::fail(
                "",
                format!("token endpoint: {}", crate::outbound::describe(&e)),
                "check the network to the IdP",
            );
        }
    };
    let status = response.status().as_u16();
    let body = json_body(response).await.unwrap_or(Value::Null);
    let error = body.get("error").and_then(Value::as_str).unwrap_or_default();
    let description = body.get("error_description").and_then(Value::as_str).unwrap_or_default();
    let first_line = description.lines().next().unwrap_or_default();
    match error {
        "invalid_grant" => Check::ok("", "the IdP accepts client_id and client_secret"),
        "invalid_client" | "unauthorized_client" => Check::fail(
            "",
            format!("the IdP refuses client_id {} or its secret: {first_line}", provider.client_id),
            "copy both from the IdP's console (Google: APIs & Services > Credentials; Entra: Certificates & \
             secrets, where secrets expire); no quotes or spaces around them; with ${VAR}, check the variable",
        ),
        _ => Check::warn(
            "",
            format!("unexpected answer to a probe exchange: HTTP {status} {error} {first_line}"),
            "try a sign-in; if it fails, compare client_id and client_secret with the IdP's console",
        ),
    }
}
