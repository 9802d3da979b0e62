//! Unguessable values from the operating system's generator, URL-safe: the
//! OIDC state, nonce and PKCE verifier, the browser cookie, confirmation and
//! device codes' ids.

/// `bytes` random bytes from the OS, URL-safe base64 without padding.
pub fn random(bytes: usize) -> String {
    use base64::Engine;
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}
