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

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm, the
/// inverse of [`utc`]'s).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A point in time as `opm history --since` takes it, in ms since the
/// epoch: a duration back from `now_ms` (`90s`, `30m`, `1h`, `2d`, `1w`),
/// a UTC date (`2026-12-03`) or a UTC date and time
/// (`2026-12-03T14:05:00`, `2026-12-03 14:05`, a trailing `Z` allowed).
///
/// # Errors
/// What is wrong with `text`, with the forms it may take.
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, String> {
    let bad = || {
        format!(
            "bad time '{text}': give a duration back from now (90s, 30m, 1h, 2d, 1w) or a UTC \
             date or time (2026-12-03, 2026-12-03T14:05:00)"
        )
    };
    let text = text.trim();
    if let Some(unit) = text.chars().last().filter(char::is_ascii_alphabetic)
        && !text.contains('-')
    {
        let count: i64 = text[..text.len() - 1].parse().map_err(|_| bad())?;
        let unit_ms: i64 = match unit {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return Err(bad()),
        };
        if count < 0 {
            return Err(bad());
        }
        return count
            .checked_mul(unit_ms)
            .map(|back| now_ms.saturating_sub(back))
            .ok_or_else(bad);
    }
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let number = |part: Option<&str>, low: i64, high: i64| -> Result<i64, String> {
        let part = part.ok_or_else(bad)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let value: i64 = part.parse().map_err(|_| bad())?;
        if (low..=high).contains(&value) {
            Ok(value)
        } else {
            Err(bad())
        }
    };
    let mut parts = date.split('-');
    let year = number(parts.next(), 1970, 9999)?;
    let month = number(parts.next(), 1, 12)?;
    let day = number(parts.next(), 1, 31)?;
    if parts.next().is_some() {
        return Err(bad());
    }
    let days = days_from_civil(year, month, day);
    // A day that does not exist (2026-02-30) comes back as another date.
    if utc(days * 86_400_000)[..10] != *date {
        return Err(bad());
    }
    let seconds = match time {
        None => 0,
        Some(time) => {
            let mut parts = time.split(':');
            let hour = number(parts.next(), 0, 23)?;
            let minute = number(parts.next(), 0, 59)?;
            let second = match parts.next() {
                Some(second) => number(Some(second), 0, 59)?,
                None => 0,
            };
            if parts.next().is_some() {
                return Err(bad());
            }
            hour * 3600 + minute * 60 + second
        }
    };
    Ok((days * 86_400 + seconds) * 1000)
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

    #[test]
    fn since_takes_durations_dates_and_times() {
        let now = 1_795_000_000_000;
        assert_eq!(parse_since("1h", now), Ok(now - 3_600_000));
        assert_eq!(parse_since("90s", now), Ok(now - 90_000));
        assert_eq!(parse_since("2d", now), Ok(now - 2 * 86_400_000));
        assert_eq!(parse_since("1w", now), Ok(now - 7 * 86_400_000));
        assert_eq!(parse_since("0m", now), Ok(now));
        assert_eq!(parse_since("2000-02-29", now), Ok(951_782_400_000));
        assert_eq!(
            parse_since("2026-11-18T11:06:40Z", now),
            Ok(1_795_000_000_000)
        );
        assert_eq!(parse_since("2026-11-18 11:06", now), Ok(1_794_999_960_000));
        for bad in [
            "",
            "h",
            "1y",
            "-1h",
            "yesterday",
            "2026-13-01",
            "2026-02-30",
            "2026-12",
            "2026-12-03T25:00",
            "2026-12-03T10:00:00:00",
            "1.5h",
            "99999999999999999w",
        ] {
            let error = parse_since(bad, now).unwrap_err();
            assert!(error.contains("bad time"), "{bad}: {error}");
        }
    }
}
