//! The `X-Signature` header: lowercase hex HMAC-SHA256 of the raw request body
//! under the shared secret. Compared in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Whether `header` is the valid signature of `body` under `secret`.
pub fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(bytes) = header.and_then(|h| hex::decode(h.trim()).ok()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&bytes).is_ok()
}

/// The signature a client should send (used by tests and the control docs).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2() {
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verifies_only_the_right_signature() {
        let sig = sign(b"k", b"{}");
        assert!(verify(b"k", b"{}", Some(&sig)));
        assert!(verify(b"k", b"{}", Some(&sig.to_uppercase())), "hex case does not matter");
        assert!(!verify(b"k", b"{} ", Some(&sig)), "the raw body is signed");
        assert!(!verify(b"other", b"{}", Some(&sig)));
        assert!(!verify(b"k", b"{}", None));
        assert!(!verify(b"k", b"{}", Some("zz")));
    }
}
