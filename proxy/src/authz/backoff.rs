//! Exponential backoff per client IP: no delay after the first failure, then
//! 2 s, 4 s, 8 s ... (the configured multiplier) up to `max_backoff_seconds`,
//! and the maximum once `max_attempts` failures have accumulated. Stored in
//! `rate_limits`, so `DELETE FROM rate_limits` by hand clears it (the guide's fix).

use crate::clock::{UnixSeconds, from_sqlite};
use crate::config::RateLimit;
use crate::store::RateLimitRecord;

/// The block that follows the `failures`-th consecutive failure, in seconds.
pub fn delay_after(failures: u32, limits: &RateLimit) -> i64 {
    let max = i64::from(limits.max_backoff_seconds);
    if failures <= 1 {
        return 0;
    }
    if failures >= limits.max_attempts {
        return max;
    }
    let multiplier = i64::from(limits.backoff_multiplier.max(1));
    let mut delay: i64 = 2;
    for _ in 2..failures {
        delay = delay.saturating_mul(multiplier);
        if delay >= max {
            return max;
        }
    }
    delay.min(max)
}

/// Seconds the identifier must still wait, if it is blocked at `now`.
pub fn wait_left(record: Option<&RateLimitRecord>, now: UnixSeconds) -> Option<i64> {
    let until = record?.blocked_until.as_deref().and_then(from_sqlite)?;
    (until > now).then_some(until - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_schedule() {
        let limits = RateLimit { max_attempts: 10, backoff_multiplier: 2, max_backoff_seconds: 300 };
        let delays: Vec<i64> = (1..=10).map(|n| delay_after(n, &limits)).collect();
        assert_eq!(delays, [0, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(delay_after(50, &limits), 300);
        let short = RateLimit { max_attempts: 3, backoff_multiplier: 3, max_backoff_seconds: 60 };
        assert_eq!((delay_after(2, &short), delay_after(3, &short)), (2, 60));
    }

    #[test]
    fn waiting_reads_the_stored_time() {
        let record = |until: &str| RateLimitRecord {
            identifier: "ip".into(),
            failed_attempts: 2,
            blocked_until: Some(until.into()),
        };
        let now = from_sqlite("2026-01-01 00:00:00").unwrap();
        assert_eq!(wait_left(Some(&record("2026-01-01 00:00:05")), now), Some(5));
        assert_eq!(wait_left(Some(&record("2025-12-31 23:59:59")), now), None);
        assert_eq!(wait_left(None, now), None);
    }
}
