//! Opkg versions (`[epoch:]upstream-release`, SPEC §2) and their order:
//! dpkg's, which is also how opm picks an opkg's newest imported version
//! and tells an upgrade from a downgrade (SPEC §1.9). Pure; the package
//! families' own orders for native files stay in `opm-native`.

use std::cmp::Ordering;

/// Orders Debian versions (`[epoch:]upstream[-revision]`) as dpkg does.
pub fn compare(left: &str, right: &str) -> Ordering {
    let (left_epoch, left_upstream, left_revision) = split_deb(left);
    let (right_epoch, right_upstream, right_revision) = split_deb(right);
    left_epoch
        .cmp(&right_epoch)
        .then_with(|| deb_part(left_upstream, right_upstream))
        .then_with(|| deb_part(left_revision, right_revision))
}

fn split_deb(version: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (epoch.parse().unwrap_or(0), rest),
        None => (0, version),
    };
    match rest.rsplit_once('-') {
        Some((upstream, revision)) => (epoch, upstream, revision),
        None => (epoch, rest, ""),
    }
}

/// dpkg's `verrevcmp`: letters sort before other symbols, `~` before
/// everything including the end of the string.
fn deb_part(left: &str, right: &str) -> Ordering {
    fn weight(byte: Option<&u8>) -> i32 {
        match byte {
            None => 0,
            Some(b'~') => -1,
            Some(byte) if byte.is_ascii_digit() => 0,
            Some(byte) if byte.is_ascii_alphabetic() => i32::from(*byte),
            Some(byte) => i32::from(*byte) + 256,
        }
    }
    let (mut left, mut right) = (left.as_bytes(), right.as_bytes());
    while !left.is_empty() || !right.is_empty() {
        while left.first().is_some_and(|b| !b.is_ascii_digit())
            || right.first().is_some_and(|b| !b.is_ascii_digit())
        {
            let order = weight(left.first()).cmp(&weight(right.first()));
            if order != Ordering::Equal {
                return order;
            }
            left = left.get(1..).unwrap_or_default();
            right = right.get(1..).unwrap_or_default();
        }
        let (left_number, left_rest) = take_digits(left);
        let (right_number, right_rest) = take_digits(right);
        let order = compare_digits(left_number, right_number);
        if order != Ordering::Equal {
            return order;
        }
        left = left_rest;
        right = right_rest;
    }
    Ordering::Equal
}

/// `bytes` split after its leading run of bytes `keep` accepts.
pub fn take_while(bytes: &[u8], keep: fn(&u8) -> bool) -> (&[u8], &[u8]) {
    let end = bytes.iter().position(|b| !keep(b)).unwrap_or(bytes.len());
    bytes.split_at(end)
}

/// `bytes` split after its leading digits.
pub fn take_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    take_while(bytes, u8::is_ascii_digit)
}

/// Compares digit strings of any length as numbers.
pub fn compare_digits(left: &[u8], right: &[u8]) -> Ordering {
    let strip =
        |digits: &[u8]| -> Vec<u8> { digits.iter().copied().skip_while(|b| *b == b'0').collect() };
    let (left, right) = (strip(left), strip(right));
    left.len().cmp(&right.len()).then_with(|| left.cmp(&right))
}

/// The newest of `versions` by [`compare`]; `None` for none.
pub fn newest<'a>(versions: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    versions
        .into_iter()
        .max_by(|left, right| compare(left, right))
}

/// The version an opkg's rows should have (SPEC §1.9): the pinned one when
/// the opkg is pinned, else the newest imported one.
pub fn wanted<'a>(
    versions: impl IntoIterator<Item = &'a str>,
    pinned: Option<&'a str>,
) -> Option<&'a str> {
    pinned.or_else(|| newest(versions))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn orders_opkg_versions_like_dpkg() {
        for (left, right, expected) in [
            ("1.0", "1.0", Equal),
            ("1.0-1", "1.0-2", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1:0.1", "2.0", Greater),
            ("1:3.1-2", "1:3.2-1", Less),
            ("007", "7", Equal),
        ] {
            assert_eq!(compare(left, right), expected, "{left} vs {right}");
            assert_eq!(
                compare(right, left),
                expected.reverse(),
                "{right} vs {left}"
            );
        }
    }

    #[test]
    fn the_wanted_version_is_the_pin_or_the_newest() {
        let versions = ["1:3.1-2", "1:3.10-1", "1:3.2-1"];
        assert_eq!(wanted(versions, None), Some("1:3.10-1"));
        assert_eq!(wanted(versions, Some("1:3.1-2")), Some("1:3.1-2"));
        assert_eq!(wanted([], None), None);
    }
}
