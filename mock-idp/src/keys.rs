//! Signing keys and the JWKS an issuer publishes.
//!
//! Each issuer has its own key ring: the active key signs, earlier keys stay
//! published after a rotation (as real providers do) until dropped. An extra
//! "rogue" key, never published, serves the signed-by-an-unknown-key faults.
//!
//! RSA key generation costs 0.1 to 1 s per key. Test suites start hundreds of
//! mock servers, so the initial keys come from a per-process [`KeyPool`]: the
//! n-th issuer of every server in a process starts with the same n-th key
//! (issuers of one server always differ). Rotation always makes a fresh key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, sha2::Sha256};
use serde_json::{Value, json};

const KEY_BITS: usize = 2048;

/// One RSA key and its key id.
#[derive(Clone)]
pub struct Key {
    pub kid: String,
    signer: SigningKey<Sha256>,
    private: RsaPrivateKey,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl Key {
    /// Generates a fresh key. Slow-ish (CPU bound): call from a blocking context.
    pub fn generate() -> Result<Key, rsa::Error> {
        let private = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)?;
        Ok(Key::from_private(private))
    }

    /// Loads a PEM private key (PKCS#8 `BEGIN PRIVATE KEY` or PKCS#1 `BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Key, String> {
        use rsa::pkcs1::DecodeRsaPrivateKey;
        use rsa::pkcs8::DecodePrivateKey;
        let private = RsaPrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
            .map_err(|e| format!("not an RSA private key in PEM (PKCS#8 or PKCS#1): {e}"))?;
        if private.size() * 8 < 2048 {
            return Err("RSA keys shorter than 2048 bits are refused, as real providers do".into());
        }
        Ok(Key::from_private(private))
    }

    fn from_private(private: RsaPrivateKey) -> Key {
        use sha2::Digest;
        // kid = a thumbprint-like digest of the modulus: stable per key, unique across keys.
        let digest = sha2::Sha256::digest(private.n().to_bytes_be());
        let kid: String = digest[..20].iter().map(|b| format!("{b:02x}")).collect();
        Key { kid, signer: SigningKey::<Sha256>::new(private.clone()), private }
    }

    /// RS256 signature over `data`.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.signer.sign(data).to_vec()
    }

    /// The public half as a JWK.
    /// The public key as SPKI PEM (what an algorithm-confusion attack uses as an HMAC secret).
    pub fn public_pem(&self) -> String {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        self.private.to_public_key().to_public_key_pem(LineEnding::LF).unwrap_or_default()
    }

    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(self.private.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(self.private.e().to_bytes_be()),
        })
    }
}

/// The keys of one issuer.
#[derive(Debug, Clone)]
pub struct KeyRing {
    /// Published keys, the active (signing) one last.
    published: Vec<Key>,
    /// Never published: used to sign tokens that must fail verification.
    rogue: Key,
}

/// Keys generated once per process and handed out by position.
pub struct KeyPool;

static POOL: std::sync::Mutex<Vec<Key>> = std::sync::Mutex::new(Vec::new());

impl KeyPool {
    /// The `index`-th key of this process, generating keys up to it when needed.
    pub fn get(index: usize) -> Result<Key, rsa::Error> {
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        while pool.len() <= index {
            pool.push(Key::generate()?);
        }
        Ok(pool[index].clone())
    }
}

impl KeyRing {
    /// Fresh keys, nothing shared.
    pub fn generate() -> Result<KeyRing, rsa::Error> {
        Ok(KeyRing { published: vec![Key::generate()?], rogue: Key::generate()? })
    }

    /// A ring whose signing key is given (loaded from a file); the rogue key comes from the pool.
    pub fn with_key(key: Key, position: usize) -> Result<KeyRing, rsa::Error> {
        Ok(KeyRing { published: vec![key], rogue: KeyPool::get(2 * position + 1)? })
    }

    /// The ring of a server's `position`-th issuer, from the process pool.
    /// Rogue keys sit at odd pool positions, so they are never anyone's published key.
    pub fn pooled(position: usize) -> Result<KeyRing, rsa::Error> {
        Ok(KeyRing { published: vec![KeyPool::get(2 * position)?], rogue: KeyPool::get(2 * position + 1)? })
    }

    pub fn active(&self) -> &Key {
        // `published` is never empty: constructed with one key, rotation only appends first.
        &self.published[self.published.len() - 1]
    }

    pub fn rogue(&self) -> &Key {
        &self.rogue
    }

    /// Makes `next` the signing key; earlier keys stay published unless `keep_previous` is false.
    pub fn rotate(&mut self, next: Key, keep_previous: bool) {
        if !keep_previous {
            self.published.clear();
        }
        self.published.push(next);
    }

    pub fn jwks(&self) -> Value {
        // Newest first, as providers usually list them.
        json!({ "keys": self.published.iter().rev().map(Key::jwk).collect::<Vec<_>>() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_keys_load_and_garbage_is_refused() {
        use rsa::pkcs8::{EncodePrivateKey, LineEnding};
        let key = Key::generate().unwrap();
        let pem = key.private.to_pkcs8_pem(LineEnding::LF).unwrap();
        assert_eq!(Key::from_pem(&pem).unwrap().kid, key.kid);
        assert!(Key::from_pem("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n").is_err());
        assert!(Key::from_pem("").is_err());
    }

    #[test]
    fn rotation_publishes_new_key_and_optionally_keeps_old() {
        let mut ring = KeyRing::generate().unwrap();
        let first = ring.active().kid.clone();
        assert_ne!(first, ring.rogue().kid);
        ring.rotate(Key::generate().unwrap(), true);
        let kids: Vec<String> =
            ring.jwks()["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
        assert_eq!(kids.len(), 2);
        assert_eq!(kids[0], ring.active().kid);
        assert!(kids.contains(&first));
        ring.rotate(Key::generate().unwrap(), false);
        assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 1);
    }
}
