//! The lexical rules of `xs:dateTime` (XML Schema 1.0 part 2, §3.2.7), as
//! libxml2 applies them: `-?YYYY-MM-DDThh:mm:ss(.s+)?(Z|(+|-)hh:mm)?`.

/// Whether `value` (already whitespace-collapsed) is a valid `xs:dateTime`.
pub fn is_date_time(value: &str) -> bool {
    let value = value.strip_prefix('-').unwrap_or(value);
    let Some((date, time)) = value.split_once('T') else {
        return false;
    };
    valid_date(date) && valid_time(time)
}

/// Seconds since 1970-01-01T00:00:00Z of a valid `xs:dateTime` in years
/// 1970 to 2105 (a zone-less value counts as UTC, fractions are dropped);
/// `None` for anything else, so callers can fall back to a time of their own.
pub fn unix_seconds(value: &str) -> Option<u32> {
    if !is_date_time(value) || value.starts_with('-') {
        return None;
    }
    let (date, time) = value.split_once('T')?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = digits(date_parts.next()?)?.into();
    let month: i64 = digits(date_parts.next()?)?.into();
    let day: i64 = digits(date_parts.next()?)?.into();
    let (clock, zone) = match time.find(['Z', '+', '-']) {
        Some(at) => time.split_at(at),
        None => (time, ""),
    };
    let mut clock_parts = clock.splitn(3, ':');
    let hour: i64 = digits(clock_parts.next()?)?.into();
    let minute: i64 = digits(clock_parts.next()?)?.into();
    let second: i64 = digits(clock_parts.next()?.split('.').next()?)?.into();
    let offset = match zone.strip_prefix(['+', '-']) {
        Some(offset) => {
            let (hours, minutes) = offset.split_once(':')?;
            let minutes = i64::from(digits(hours)?) * 60 + i64::from(digits(minutes)?);
            if zone.starts_with('-') {
                -minutes
            } else {
                minutes
            }
        }
        None => 0,
    };
    // Howard Hinnant's days_from_civil.
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset * 60;
    u32::try_from(seconds).ok()
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn two_digits(s: &str) -> Option<u32> {
    if s.len() == 2 { digits(s) } else { None }
}

fn valid_date(date: &str) -> bool {
    let mut parts = date.splitn(3, '-');
    let (Some(year), Some(month), Some(day)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    // At least four digits, no leading zero beyond four, and no year 0000.
    if year.len() < 4 || (year.len() > 4 && year.starts_with('0')) {
        return false;
    }
    let Some(year) = digits(year) else {
        return false;
    };
    let (Some(month), Some(day)) = (two_digits(month), two_digits(day)) else {
        return false;
    };
    year != 0 && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn valid_time(time: &str) -> bool {
    let (clock, zone) = match time.find(['Z', '+', '-']) {
        Some(at) => time.split_at(at),
        None => (time, ""),
    };
    valid_clock(clock) && valid_zone(zone)
}

fn valid_clock(clock: &str) -> bool {
    let mut parts = clock.splitn(3, ':');
    let (Some(hour), Some(minute), Some(second)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (whole, fraction) = match second.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (second, None),
    };
    if let Some(fraction) = fraction
        && (fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    let (Some(hour), Some(minute), Some(second)) =
        (two_digits(hour), two_digits(minute), two_digits(whole))
    else {
        return false;
    };
    let fraction_zero = fraction.is_none_or(|f| f.bytes().all(|b| b == b'0'));
    if hour == 24 {
        return minute == 0 && second == 0 && fraction_zero;
    }
    hour < 24 && minute < 60 && second < 60
}

fn valid_zone(zone: &str) -> bool {
    if zone.is_empty() || zone == "Z" {
        return true;
    }
    let Some(offset) = zone.strip_prefix(['+', '-']) else {
        return false;
    };
    let Some((hours, minutes)) = offset.split_once(':') else {
        return false;
    };
    let (Some(hours), Some(minutes)) = (two_digits(hours), two_digits(minutes)) else {
        return false;
    };
    (hours < 14 && minutes < 60) || (hours == 14 && minutes == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_what_the_corpus_and_the_spec_hold() {
        for value in [
            "2018-04-25T16:29:17+02:00",
            "2006-10-29T13:20:00.000+01:00",
            "2006-10-28T12:54:00",
            "2005-01-01T04:20:00-05:00",
            "2000-02-29T00:00:00Z",
            "-0044-03-15T12:00:00",
            "12345-01-01T00:00:00",
            "2000-01-01T24:00:00",
            "2000-01-01T10:00:00.1234567890123+14:00",
        ] {
            assert!(is_date_time(value), "{value}");
        }
    }

    #[test]
    fn unix_seconds_reads_zones_and_refuses_what_is_not_a_date_time() {
        assert_eq!(unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(unix_seconds("2023-11-14T22:13:20"), Some(1_700_000_000));
        assert_eq!(
            unix_seconds("2023-11-15T00:13:20+02:00"),
            Some(1_700_000_000)
        );
        assert_eq!(
            unix_seconds("2023-11-14T20:13:20.5-02:00"),
            Some(1_700_000_000)
        );
        assert_eq!(unix_seconds("2000-02-29T00:00:00Z"), Some(951_782_400));
        assert_eq!(unix_seconds("2014-07-1TT18:59:47+02:00"), None);
        assert_eq!(unix_seconds("1969-12-31T23:59:59Z"), None);
        assert_eq!(unix_seconds("-0044-03-15T12:00:00"), None);
    }

    #[test]
    fn refuses_malformed_values() {
        for value in [
            "2014-07-1TT18:59:47+02:00",
            "2014-07-11",
            "2014-07-11T18:59",
            "2014-7-11T18:59:47",
            "14-07-11T18:59:47",
            "02014-07-11T18:59:47",
            "0000-01-01T00:00:00",
            "2014-13-11T18:59:47",
            "2014-02-29T18:59:47",
            "1900-02-29T00:00:00",
            "2014-04-31T00:00:00",
            "2014-07-11T25:00:00",
            "2014-07-11T24:00:01",
            "2014-07-11T18:60:00",
            "2014-07-11T18:59:60",
            "2014-07-11T18:59:47.",
            "2014-07-11T18:59:47+15:00",
            "2014-07-11T18:59:47+14:30",
            "2014-07-11T18:59:47+0200",
            "2014-07-11T18:59:47 +02:00",
            "2014-07-11t18:59:47",
            "",
            "T",
        ] {
            assert!(!is_date_time(value), "{value}");
        }
    }
}
