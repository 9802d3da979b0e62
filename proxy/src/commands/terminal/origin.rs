//! The proxy a terminal talks to, and what the client will send it. A kept
//! token is tied to the URL it was issued by; it travels only over HTTPS, or in
//! clear to this machine itself (a loopback address or `localhost`), since a
//! token in clear on a network can be read and replayed by anyone on the path.
//! Plain `http://` to any other host is refused unless the user passes
//! `--allow-insecure-http`, and then every use says so. The decision is made from
//! the URL as typed, never from what a name resolves to: `http://llm.internal`
//! that resolves to 127.0.0.1 today may resolve elsewhere tomorrow.
//!
//! A browser is opened only for a link on this proxy's own origin, in the
//! serialized form of a parsed URL (it begins with `https://` or `http://`, so
//! no browser can read it as an option); anything else a proxy suggests is only
//! printed.

use std::net::IpAddr;
use url::{Host, Url};

/// The flag that lets a token cross a network in clear.
pub const INSECURE_FLAG: &str = "--allow-insecure-http";

/// A proxy's base URL, checked and in one canonical form (the key its token is kept under).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOrigin {
    url: Url,
    /// The canonical text: scheme, lower-case host, port when not the default, path without a trailing `/`.
    base: String,
}

impl ProxyOrigin {
    /// Parses `--proxy` (or a kept default): `http(s)://host[:port][/path]`, no credentials, query or fragment.
    pub fn parse(text: &str) -> Result<ProxyOrigin, String> {
        let shown = super::screen::line(text, 200);
        let url = Url::parse(text.trim()).map_err(|e| format!("--proxy {shown}: not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("--proxy {shown}: give the URL with http:// or https://"));
        }
        if url.host().is_none() {
            return Err(format!("--proxy {shown}: the URL names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!("--proxy {shown}: leave user names and passwords out of the URL"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!("--proxy {shown}: give the proxy's base URL, without ?query or #fragment"));
        }
        let base = url.as_str().trim_end_matches('/').to_string();
        Ok(ProxyOrigin { url, base })
    }

    /// The canonical base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    /// This machine itself: `localhost`, 127.0.0.0/8 or `::1` (as written in the URL, not as resolved).
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.url.host())
    }

    /// Plain HTTP to another machine: the token would cross a network in clear.
    pub fn is_insecure(&self) -> bool {
        !self.is_https() && !self.is_loopback()
    }

    /// Whether a token or a device code may be sent to this proxy. With the insecure flag a warning is printed
    /// (on every use) instead of a refusal.
    pub fn check_transport(&self, allow_insecure: bool) -> Result<(), String> {
        if !self.is_insecure() {
            return Ok(());
        }
        if allow_insecure {
            self.warn_insecure();
            return Ok(());
        }
        Err(format!(
            "refusing to talk to {} over plain http://: the agent token would cross the network in clear, where \
             anyone on the path can read and reuse it. Use the proxy's https:// URL; for a test network only, \
             {INSECURE_FLAG} allows it",
            self.base
        ))
    }

    /// The warning shown on every use of a proxy reached in clear.
    pub fn warn_insecure(&self) {
        if self.is_insecure() {
            eprintln!(
                "warning: {} is plain http:// on another machine: the agent token crosses the network in clear \
                 ({INSECURE_FLAG})",
                self.base
            );
        }
    }

    /// An endpoint of this proxy: `base` + `path` (which starts with `/`).
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The link to open in a browser, if `candidate` is on this proxy's origin (same scheme, host and port) and
    /// its scheme is one a browser may be handed (`https`, or `http` on loopback); in the serialized form of the
    /// parsed URL, which no browser reads as an option.
    pub fn browser_link(&self, candidate: &str) -> Option<String> {
        let url = Url::parse(candidate.trim()).ok()?;
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(url.host()));
        let text = url.as_str();
        let plain = text.starts_with("https://") || text.starts_with("http://");
        let clean = !text.chars().any(|c| c.is_control() || c.is_whitespace());
        (scheme_ok && plain && clean && url.origin() == self.url.origin()).then(|| text.to_string())
    }
}

fn is_loopback_host(host: Option<Host<&str>>) -> bool {
    match host {
        // Only the name every resolver maps to this machine; `*.localhost` may be sent to DNS.
        Some(Host::Domain(name)) => name.trim_end_matches('.').eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(text: &str) -> ProxyOrigin {
        ProxyOrigin::parse(text).unwrap()
    }

    #[test]
    fn base_urls_are_canonical() {
        assert_eq!(origin("https://LLM.Example.com:443/").base(), "https://llm.example.com");
        assert_eq!(origin(" http://127.0.0.1:8080 ").base(), "http://127.0.0.1:8080");
        assert_eq!(origin("https://gw.example.com/llm/").base(), "https://gw.example.com/llm");
        for bad in ["ftp://x", "llm.example.com", "https://u:p@x", "https://x/?a=1", "https://x/#f", "http://"] {
            assert!(ProxyOrigin::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_https_or_this_machine_is_secure() {
        for secure in [
            "https://llm.example.com",
            "http://127.0.0.1:1",
            "http://127.9.8.7",
            "http://[::1]:2",
            "http://localhost:3",
        ] {
            assert!(!origin(secure).is_insecure(), "{secure}");
            assert!(origin(secure).check_transport(false).is_ok(), "{secure}");
        }
        for insecure in
            ["http://llm.example.com", "http://10.0.0.1", "http://localhost.example.com", "http://a.localhost"]
        {
            let o = origin(insecure);
            let e = o.check_transport(false).unwrap_err();
            assert!(e.contains(INSECURE_FLAG) && e.contains("in clear"), "{e}");
            assert!(o.check_transport(true).is_ok());
        }
    }

    #[test]
    fn a_browser_gets_only_links_on_the_proxys_origin() {
        let o = origin("https://llm.example.com");
        let link = "https://llm.example.com/auth/device?user_code=BCDF-GHJK";
        assert_eq!(o.browser_link(link).as_deref(), Some(link));
        for hostile in [
            "--gpu-launcher=touch /tmp/x",
            "https://evil.example.com/auth/device",
            "http://llm.example.com/auth/device",
            "https://llm.example.com:8443/auth/device",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "data:text/html,hi",
        ] {
            assert_eq!(o.browser_link(hostile), None, "{hostile}");
        }
        let local = origin("http://127.0.0.1:8080");
        assert!(local.browser_link("http://127.0.0.1:8080/auth/device").is_some());
        assert_eq!(local.browser_link("http://127.0.0.1:9090/auth/device"), None);
    }
}
