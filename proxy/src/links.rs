//! The URLs the agent-facing half hands to users: where to sign in, and where
//! to renew an expired token. The browser half (`sso/`) serves them; this is
//! the one place that decides their shape.

/// Builds login and re-authentication URLs from the proxy's public base URL.
#[derive(Debug, Clone)]
pub struct Links {
    base_url: String,
}

impl Links {
    /// `base_url` is `public_url`, or `http://{host}:{port}`; never with a trailing slash.
    pub fn new(base_url: &str) -> Self {
        Links { base_url: base_url.trim_end_matches('/').to_string() }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where a user without a token signs in.
    pub fn login_url(&self) -> String {
        format!("{}/auth/login", self.base_url)
    }

    /// Where the owner of an expired token signs in again to renew *that* token.
    /// It names the token by its hash (never the token itself): renewing still
    /// requires signing in as the token's owner.
    pub fn reauth_url(&self, token_hash: &str) -> String {
        format!("{}/auth/login?renew={token_hash}", self.base_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_hang_from_the_base_without_double_slashes() {
        let links = Links::new("https://proxy.company.com/");
        assert_eq!(links.login_url(), "https://proxy.company.com/auth/login");
        assert_eq!(links.reauth_url("ab12"), "https://proxy.company.com/auth/login?renew=ab12");
    }
}
