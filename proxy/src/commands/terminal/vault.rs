//! The user's credential store (the `keyring` crate: Keychain on macOS, the
//! Credential Manager on Windows, the Secret Service of the desktop session on
//! Linux and BSD), where the token goes when there is one. Over SSH and in
//! containers there usually is none: the caller then keeps the token in the
//! private credentials file instead ([`super::credentials`]).
//!
//! The store's calls block (D-Bus, system APIs): they run on tokio's blocking
//! pool, never on the runtime's thread. Built without the `credential-store`
//! feature (the server's container image, where no desktop session exists),
//! there is no credential store and every call says so.

pub use imp::{forget, load, store};

#[cfg(feature = "credential-store")]
mod imp {
    /// The service name the token is filed under; the account is the proxy's URL.
    const SERVICE: &str = "llm-sso-proxy";

    fn entry(proxy: &str) -> Result<keyring::Entry, String> {
        keyring::Entry::new(SERVICE, proxy).map_err(|e| describe(&e))
    }

    fn describe(e: &keyring::Error) -> String {
        match e {
            keyring::Error::NoDefaultStore => "no credential store on this machine".to_string(),
            other => crate::logging::chain(other),
        }
    }

    async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
        tokio::task::spawn_blocking(f).await.map_err(|e| format!("the credential store call failed: {e}"))?
    }

    /// Files the token for `proxy`; an error says why there is no credential store to use.
    pub async fn store(proxy: &str, token: &str) -> Result<(), String> {
        let (proxy, token) = (proxy.to_string(), token.to_string());
        blocking(move || entry(&proxy)?.set_password(&token).map_err(|e| describe(&e))).await
    }

    /// The token filed for `proxy`.
    pub async fn load(proxy: &str) -> Result<String, String> {
        let proxy = proxy.to_string();
        blocking(move || entry(&proxy)?.get_password().map_err(|e| describe(&e))).await
    }

    /// Forgets the token filed for `proxy` (none filed is fine).
    pub async fn forget(proxy: &str) -> Result<(), String> {
        let proxy = proxy.to_string();
        blocking(move || match entry(&proxy)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(describe(&e)),
        })
        .await
    }
}

#[cfg(not(feature = "credential-store"))]
mod imp {
    const NOT_BUILT: &str = "this build has no credential store support (the `credential-store` feature)";

    pub async fn store(_proxy: &str, _token: &str) -> Result<(), String> {
        Err(NOT_BUILT.into())
    }

    pub async fn load(_proxy: &str) -> Result<String, String> {
        Err(NOT_BUILT.into())
    }

    pub async fn forget(_proxy: &str) -> Result<(), String> {
        Ok(())
    }
}
