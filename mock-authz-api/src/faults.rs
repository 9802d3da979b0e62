//! Failures the authorization API can be switched into at run time, each one a
//! case the proxy must turn into a denial with a named message
//! ("Authorization API timeout", "Authorization API error", ...).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Faults {
    /// Wait this long before answering (to trip the proxy's `api_timeout_seconds`).
    pub delay_ms: u64,
    /// Answer every call with this status (500, 503, ...) and an error body.
    pub status: Option<u16>,
    /// Answer 200 with a body that is not JSON.
    pub malformed_json: bool,
    /// Answer `"authorized": "true"` / `"false"` as strings: a malformed reply, never a yes.
    pub authorized_as_string: bool,
    /// Close the connection without any response.
    pub drop_connection: bool,
    /// Every Nth call (N, 2N, ...) answers 500: intermittent errors. 0 is off.
    pub fail_every_nth: u64,
}

impl Faults {
    /// Longest delay a control call may set.
    pub const MAX_DELAY_MS: u64 = 120_000;

    pub fn validate(&self) -> Result<(), String> {
        if self.delay_ms > Self::MAX_DELAY_MS {
            return Err(format!("delay_ms must be at most {}", Self::MAX_DELAY_MS));
        }
        if let Some(status) = self.status
            && !(400..=599).contains(&status)
        {
            return Err(format!("status must be an error status (400-599), got {status}"));
        }
        Ok(())
    }
}
