//! The parts of the product contract the kit needs to act
//! as an operator would, written here from the contract and not taken from the
//! proxy crate, so that any implementation is held to the same text:
//!
//! - an agent token is `llmsso_` + 43 base62 characters (256 random bits,
//!   big-endian, left-padded with `0`) + a 6-character base62 checksum of the
//!   first 4 bytes of SHA-256(`llmsso_` + body), alphabet `0-9A-Za-z`;
//! - `token_hash` is the lowercase hex SHA-256 of the whole token.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "llmsso_";
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A new, well-formed random agent token.
pub fn generate_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let body = base62(&bytes, BODY_LEN);
    let checksum = base62(&Sha256::digest(format!("{PREFIX}{body}").as_bytes())[..4], CHECKSUM_LEN);
    format!("{PREFIX}{body}{checksum}")
}

/// `token_hash` as stored in `agent_tokens`.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Big-endian base62 of `bytes`, left-padded with `0` to `width` characters.
fn base62(bytes: &[u8], width: usize) -> String {
    let mut number = bytes.to_vec();
    let mut digits = Vec::with_capacity(width);
    while number.iter().any(|&b| b != 0) {
        let mut remainder = 0u32;
        for byte in number.iter_mut() {
            let value = (remainder << 8) | u32::from(*byte);
            *byte = (value / 62) as u8;
            remainder = value % 62;
        }
        digits.push(ALPHABET[remainder as usize]);
    }
    while digits.len() < width {
        digits.push(b'0');
    }
    digits.iter().rev().map(|&d| d as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_have_the_contracts_shape() {
        let token = generate_token();
        assert_eq!(token.len(), PREFIX.len() + BODY_LEN + CHECKSUM_LEN);
        assert!(token[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(generate_token(), token);
        assert_eq!(token_hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(base62(&[0, 0, 1], 3), "001");
        assert_eq!(base62(&[0, 62], 2), "10");
    }
}
