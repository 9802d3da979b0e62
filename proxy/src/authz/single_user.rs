//! single_user mode: a 6-digit code from the OS's CSPRNG, printed once at
//! WARNING in the server console, stored only as a salted hash, compared in
//! constant time.

use rand::Rng;
use sha2::{Digest, Sha256};

/// A uniformly random 6-digit code.
pub fn new_code() -> String {
    format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32))
}

/// What is stored: SHA-256 over the pending row's id (a random salt) and the code.
pub fn hash(salt: &str, code: &str) -> String {
    crate::tokens::hex_lower(&Sha256::digest(format!("{salt}:{code}").as_bytes()))
}

/// Whether `entered` (spaces ignored) is the code behind `stored`.
pub fn matches(salt: &str, entered: &str, stored: &str) -> bool {
    let cleaned: String = entered.chars().filter(|c| !c.is_whitespace()).collect();
    if cleaned.len() != 6 || !cleaned.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let candidate = hash(salt, &cleaned);
    // Constant time: no early exit on the first differing byte.
    candidate.len() == stored.len() && candidate.bytes().zip(stored.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_six_digits_and_match_only_themselves() {
        let code = new_code();
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let stored = hash("salt", &code);
        assert_ne!(stored, code);
        assert!(matches("salt", &code, &stored));
        assert!(matches("salt", &format!(" {} {} ", &code[..3], &code[3..]), &stored), "spaces are forgiven");
        assert!(!matches("other", &code, &stored));
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert!(!matches("salt", wrong, &stored));
        assert!(!matches("salt", "12345", &stored));
        assert!(!matches("salt", "abcdef", &stored));
    }
}
