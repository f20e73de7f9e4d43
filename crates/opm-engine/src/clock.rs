//! Time, injected: the engine reads the clock only through [`Clock`], so
//! tests decide what "now" is.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A source of "now", in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// Now.
    fn now_ms(&self) -> i64;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
            })
    }
}

/// A clock that says what it is told (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    now: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `now_ms`.
    pub fn at(now_ms: i64) -> ManualClock {
        ManualClock {
            now: AtomicI64::new(now_ms),
        }
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// A UTC time of day for messages (`13:05:09`), from ms since the epoch.
pub fn time_of_day(ms: i64) -> String {
    let seconds = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{:02}:{:02}:{:02} UTC",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

/// A UTC timestamp, `YYYY-MM-DD HH:MM:SS`, from milliseconds since the epoch.
pub fn utc(ms: i64) -> String {
    let opm_model::Civil {
        year,
        month,
        day,
        hour,
        minute,
        second,
    } = opm_model::Civil::of_ms(ms);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::at(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance(500);
        assert_eq!(clock.now_ms(), 1_500);
    }

    #[test]
    fn time_of_day_is_utc() {
        assert_eq!(time_of_day(0), "00:00:00 UTC");
        assert_eq!(
            time_of_day(13 * 3_600_000 + 5 * 60_000 + 9_999),
            "13:05:09 UTC"
        );
        assert_eq!(time_of_day(86_400_000 + 1_000), "00:00:01 UTC");
    }

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_000_000_999), "2026-11-18 11:06:40");
        assert_eq!(utc(-1000), "1969-12-31 23:59:59");
    }
}
