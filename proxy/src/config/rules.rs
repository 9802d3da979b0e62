//! The checks that involve more than one key, or the world (a readable file):
//! the mistakes of the troubleshooting guide that are not typos. Run after the
//! environment and the command line are applied. And the warnings: settings
//! that are valid but weaker than they look.

use super::diagnostics::Diagnostic;
use super::types::{AuthMode, Config};
use super::walk::Walked;
use std::net::IpAddr;

fn has_scheme(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

fn is_loopback(host: &str) -> bool {
    host == "localhost" || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The checks across keys. Run after the environment and the command line are applied.
pub fn check(w: &mut Walked) {
    let mut found: Vec<Diagnostic> = Vec::new();
    let mut push = |w: &Walked, path: &str, message: String, hint: &str| {
        found.push(Diagnostic::new(w.origin(path), path, message).hint(hint));
    };
    let c = w.config.clone();

    if let Some(url) = &c.server.public_url {
        let parsed = url::Url::parse(url);
        let only_origin =
            parsed.as_ref().is_ok_and(|u| u.path() == "/" && u.query().is_none() && u.fragment().is_none());
        if url.ends_with('/') || !has_scheme(url) || !only_origin {
            push(
                w,
                "server.public_url",
                format!("must be a scheme and host only, found {url:?}"),
                &format!(
                    "e.g. \"https://proxy.company.com\": no trailing slash and no path (the redirect URI is {{public_url}}/auth/callback){}",
                    if url.ends_with('/') { "; remove the trailing slash" } else { "" }
                ),
            );
        }
    }
    if let Some(tls) = &c.server.tls {
        for (key, file) in [("cert_file", &tls.cert_file), ("key_file", &tls.key_file)] {
            if let Err(e) = std::fs::File::open(file) {
                let path = format!("server.tls.{key}");
                push(
                    w,
                    &path,
                    format!("cannot read {}: {e}", file.display()),
                    "a relative path is relative to the proxy's working directory; the proxy's user must read it",
                );
            }
        }
    }
    for (name, upstream) in [("openai", &c.upstreams.openai), ("anthropic", &c.upstreams.anthropic)] {
        if upstream.api_key.as_ref().is_some_and(|k| k.expose().trim() != k.expose()) {
            push(
                w,
                &format!("upstreams.{name}.api_key"),
                "has leading or trailing spaces or line breaks".into(),
                "copy the key again without them (a file read with $(cat ...) often ends in a newline); the \
                 upstream would refuse every request",
            );
        }
        if !has_scheme(&upstream.base_url) {
            let path = format!("upstreams.{name}.base_url");
            push(
                w,
                &path,
                format!("must be an http:// or https:// URL, found {:?}", upstream.base_url),
                "include the scheme",
            );
        }
    }

    if let Some(url) = &c.sso.database_url {
        let url = url.expose();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            // The URL carries a password: say what is wrong without echoing it.
            push(
                w,
                "sso.database_url",
                "must be a postgres:// or postgresql:// URL".into(),
                "e.g. \"postgres://llmsso:${PGPASSWORD}@db.internal:5432/llmsso?sslmode=require\"",
            );
        }
        if w.origins.contains_key("sso.database_path") {
            push(
                w,
                "sso.database_url",
                "sso.database_url and sso.database_path are mutually exclusive".into(),
                "remove sso.database_path (or SSO_DATABASE_PATH) to use PostgreSQL, or remove database_url to keep SQLite",
            );
        }
    }
    if !c.sso.enabled {
        if !is_loopback(&c.server.host) {
            push(
                w,
                "server.host",
                format!("SSO is disabled, so the proxy would serve {:?} without authentication", c.server.host),
                "enable SSO (sso.enabled: true) or bind a loopback address such as 127.0.0.1",
            );
        }
    } else {
        let a = &c.sso.authorization;
        if c.sso.providers.is_empty() && w.diagnostics.iter().all(|d| !d.path.starts_with("sso.providers.")) {
            push(
                w,
                "sso.providers",
                "SSO is enabled but no provider is configured".into(),
                "add one under sso.providers (e.g. google: with type, client_id, client_secret, discovery_url, scopes)",
            );
        }
        if a.mode == AuthMode::Enterprise {
            match &a.api_url {
                None => push(
                    w,
                    "sso.authorization.api_url",
                    "enterprise mode needs the authorization API URL".into(),
                    "set api_url: \"https://company.com/api/authorize\" (or SSO_AUTH_API_URL), or use mode: \"single_user\"",
                ),
                Some(url) if !has_scheme(url) => push(
                    w,
                    "sso.authorization.api_url",
                    format!("must be an http:// or https:// URL, found {url:?}"),
                    "include the scheme, e.g. \"https://company.com/api/authorize\"",
                ),
                Some(_) => {}
            }
            if a.api_secret.as_ref().is_some_and(|k| k.expose().trim() != k.expose()) {
                push(
                    w,
                    "sso.authorization.api_secret",
                    "has leading or trailing spaces or line breaks".into(),
                    "copy the secret again without them: the X-Signature would not match",
                );
            }
        }
    }
    for (name, p) in &c.sso.providers {
        let path = format!("sso.providers.{name}");
        let known = ["google", "microsoft"];
        if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(name) && *k != name) {
            push(
                w,
                &path,
                format!("provider names are case-sensitive: {name:?} is not {k:?}"),
                &format!(
                    "rename it to `{k}:`; the login URL is /auth/login/{k} and \"Provider '{k}' not configured\" means this"
                ),
            );
        }
        if !has_scheme(&p.discovery_url) {
            push(
                w,
                &format!("{path}.discovery_url"),
                format!("must be an http:// or https:// URL, found {:?}", p.discovery_url),
                "e.g. https://accounts.google.com/.well-known/openid-configuration",
            );
        }
        if !p.scopes.iter().any(|s| s == "openid") {
            push(w, &format!("{path}.scopes"), "must include \"openid\"".into(), "scopes: [\"openid\", \"email\"]");
        }
        if p.client_id.trim() != p.client_id || p.client_id.is_empty() {
            push(
                w,
                &format!("{path}.client_id"),
                "is empty or has leading or trailing spaces".into(),
                "copy the client ID again without surrounding spaces or line breaks",
            );
        }
        if p.client_secret.expose().trim() != p.client_secret.expose() || p.client_secret.expose().is_empty() {
            push(
                w,
                &format!("{path}.client_secret"),
                "is empty or has leading or trailing spaces or line breaks".into(),
                "IdPs reject such a secret with invalid_client; copy it again",
            );
        }
    }
    w.diagnostics.extend(found);
    super::policy::check(w);
}

/// Settings that are valid but weaker than they look, for `--validate-only` and the startup log.
pub fn warnings(c: &Config) -> Vec<String> {
    let mut out = Vec::new();
    if !c.sso.enabled {
        return out;
    }
    let policy = &c.sso.authorization.policy;
    if c.sso.authorization.mode != AuthMode::Policy && !(policy.allow.is_empty() && policy.deny.is_empty()) {
        out.push(format!(
            "sso.authorization.policy is ignored: sso.authorization.mode is {:?}, not \"policy\"",
            c.sso.authorization.mode.as_str()
        ));
    }
    for (name, p) in &c.sso.providers {
        let multi_tenant = ["/common/", "/organizations/"].iter().any(|t| p.discovery_url.contains(t));
        if multi_tenant && p.allowed_tenants.is_empty() {
            out.push(format!(
                "sso.providers.{name}: a multi-tenant Entra endpoint with an empty allowed_tenants lets accounts of \
                 any Microsoft tenant sign in, and their email addresses are not vouched for, so they are refused; \
                 list your tenant IDs in allowed_tenants{}",
                if c.sso.authorization.mode == AuthMode::Enterprise {
                    " (in enterprise mode the authorization API would otherwise be asked about unverified addresses)"
                } else {
                    ""
                }
            ));
        }
    }
    out
}
