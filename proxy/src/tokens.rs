//! Agent tokens: `llmsso_` + 256 random bits in base62 (43 characters) + a
//! 6-character base62 checksum. The checksum lets the proxy recognise a
//! truncated or mistyped token without touching the database; the alphabet
//! ([A-Za-z0-9_]) survives double-click selection and shell quoting.
//!
//! Only `token_hash` (lowercase hex SHA-256 of the whole token) is ever stored.

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const PREFIX: &str = "llmsso_";
const BODY_LEN: usize = 43;
const CHECKSUM_LEN: usize = 6;
/// Length of every well-formed token.
pub const TOKEN_LEN: usize = PREFIX.len() + BODY_LEN + CHECKSUM_LEN;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a presented credential is not a well-formed agent token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatError {
    /// Does not start with `llmsso_` (another provider's key, or pasted wrongly).
    MissingPrefix,
    /// Shorter than a token: cut off when copied.
    Truncated,
    /// Longer than a token: something was appended.
    TooLong,
    /// Characters outside [A-Za-z0-9] after the prefix (spaces, quotes, line breaks).
    BadCharacters,
    /// Right shape, wrong checksum: mistyped.
    BadChecksum,
}

impl FormatError {
    /// A hint for the user, safe to show (it says nothing about any stored token).
    pub fn hint(self) -> &'static str {
        match self {
            FormatError::MissingPrefix => "it does not start with `llmsso_`: is the agent sending another API key?",
            FormatError::Truncated => "it is shorter than a complete token: it looks truncated",
            FormatError::TooLong => "it is longer than a token: check for extra characters pasted after it",
            FormatError::BadCharacters => "it contains spaces, quotes or line breaks: check the API key setting",
            FormatError::BadChecksum => "its checksum does not match: a character was mistyped",
        }
    }
}

/// A new random token.
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let body = base62(&bytes, BODY_LEN);
    let checksum = checksum(&body);
    format!("{PREFIX}{body}{checksum}")
}

/// Checks prefix, length, alphabet and checksum. No I/O.
pub fn check_format(token: &str) -> Result<(), FormatError> {
    let Some(rest) = token.strip_prefix(PREFIX) else {
        return Err(FormatError::MissingPrefix);
    };
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(FormatError::BadCharacters);
    }
    match rest.len().cmp(&(BODY_LEN + CHECKSUM_LEN)) {
        std::cmp::Ordering::Less => return Err(FormatError::Truncated),
        std::cmp::Ordering::Greater => return Err(FormatError::TooLong),
        std::cmp::Ordering::Equal => {}
    }
    let (body, sum) = rest.split_at(BODY_LEN);
    if checksum(body) != sum {
        return Err(FormatError::BadChecksum);
    }
    Ok(())
}

/// `token_hash`: lowercase hex SHA-256 of the whole token string.
pub fn hash(token: &str) -> String {
    hex_lower(&Sha256::digest(token.as_bytes()))
}

pub fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(format!("{PREFIX}{body}").as_bytes());
    base62(&digest[..4], CHECKSUM_LEN)
}

/// Big-endian base62 of `bytes`, left-padded with '0' to `width` characters.
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
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert_ne!(a, b);
        assert_eq!(a.len(), TOKEN_LEN);
        assert_eq!(check_format(&a), Ok(()));
        assert_eq!(hash(&a).len(), 64);
        assert!(hash(&a).bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    }

    #[test]
    fn each_damage_is_named() {
        let t = generate();
        assert_eq!(check_format(&t[..t.len() - 1]), Err(FormatError::Truncated));
        assert_eq!(check_format(&format!("{t}x")), Err(FormatError::TooLong));
        assert_eq!(check_format(&format!("{t} ")), Err(FormatError::BadCharacters));
        assert_eq!(check_format(&format!("{t}\n")), Err(FormatError::BadCharacters));
        assert_eq!(check_format("sk-proj-abc"), Err(FormatError::MissingPrefix));
        let mut chars: Vec<char> = t.chars().collect();
        let i = PREFIX.len() + 5;
        chars[i] = if chars[i] == 'a' { 'b' } else { 'a' };
        assert_eq!(check_format(&chars.into_iter().collect::<String>()), Err(FormatError::BadChecksum));
    }

    #[test]
    fn base62_is_fixed_width_and_known() {
        assert_eq!(base62(&[0, 0], 4), "0000");
        assert_eq!(base62(&[0, 61], 2), "0z");
        assert_eq!(base62(&[0, 62], 2), "10");
        assert_eq!(base62(&[0xff; 32], 43).len(), 43, "2^256 fits in 43 base62 digits");
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    proptest! {
        #[test]
        fn any_single_character_change_is_caught(pos in 0usize..TOKEN_LEN, c in "[A-Za-z0-9]") {
            let t = generate();
            let mut chars: Vec<char> = t.chars().collect();
            let replacement = c.chars().next().unwrap();
            prop_assume!(chars[pos] != replacement);
            chars[pos] = replacement;
            let damaged: String = chars.into_iter().collect();
            prop_assert!(check_format(&damaged).is_err());
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,80}") {
            let _ = check_format(&s);
        }
    }
}
