//! Time, from one place. Expiry and backoff read [`Clock::now`]; timestamps are
//! stored in SQLite's own `YYYY-MM-DD HH:MM:SS` UTC text so that the guide's
//! hand-written `datetime('now', '+24 hours')` compares and parses correctly.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

/// The source of "now". The real clock in production; tests move time through
/// the database (as the guide does) rather than by faking this.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

impl Clock {
    pub fn now(&self) -> UnixSeconds {
        SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DD HH:MM:SS`, as SQLite's `datetime()` writes it.
pub fn to_sqlite(t: UnixSeconds) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC), as the authorization API receives it.
pub fn rfc3339(t: UnixSeconds) -> String {
    format!("{}Z", to_sqlite(t).replace(' ', "T"))
}

/// Parses `YYYY-MM-DD HH:MM:SS` (also with `T`, fractional seconds or a trailing `Z`,
/// which SQLite's date functions accept too). `None` for anything else.
pub fn from_sqlite(text: &str) -> Option<UnixSeconds> {
    let text = text.trim().trim_end_matches('Z');
    let bytes = text.as_bytes();
    if bytes.len() < 19 || !(bytes[10] == b' ' || bytes[10] == b'T') {
        return None;
    }
    let num = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let separators = bytes[4] == b'-' && bytes[7] == b'-' && bytes[13] == b':' && bytes[16] == b':';
    let fraction_ok = bytes.len() == 19 || (bytes[19] == b'.' && bytes[20..].iter().all(u8::is_ascii_digit));
    if !separators || !fraction_ok || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_dates() {
        assert_eq!(to_sqlite(0), "1970-01-01 00:00:00");
        assert_eq!(to_sqlite(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(from_sqlite("2026-11-26 18:30:05"), Some(1_795_717_805));
        assert_eq!(from_sqlite("2026-11-26T18:30:05.123Z"), Some(1_795_717_805));
        for bad in ["", "2026-11-26", "2026-13-01 00:00:00", "2026/11/26 00:00:00", "yesterday", "2026-11-26 24:00:00"]
        {
            assert_eq!(from_sqlite(bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(t in -62_135_596_800i64..253_402_300_799i64) {
            prop_assert_eq!(from_sqlite(&to_sqlite(t)), Some(t));
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = from_sqlite(&s);
        }
    }
}
