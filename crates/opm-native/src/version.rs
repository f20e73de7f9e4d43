//! Version ordering of the two package families, used to pick the newest
//! file when a repository directory holds several versions of a package.

use std::cmp::Ordering;

use opm_model::version::{compare_digits, take_digits, take_while};

/// Orders Debian versions (`[epoch:]upstream[-revision]`) as dpkg does:
/// the order of opkg versions, kept once in `opm-model`.
#[must_use]
pub fn compare_deb(left: &str, right: &str) -> Ordering {
    opm_model::version::compare(left, right)
}

/// Orders RPM `[epoch:]version-release` strings as rpm does.
#[must_use]
pub fn compare_rpm(left: &str, right: &str) -> Ordering {
    let (left_epoch, left_rest) = split_epoch(left);
    let (right_epoch, right_rest) = split_epoch(right);
    let (left_version, left_release) = left_rest.rsplit_once('-').unwrap_or((left_rest, ""));
    let (right_version, right_release) = right_rest.rsplit_once('-').unwrap_or((right_rest, ""));
    left_epoch
        .cmp(&right_epoch)
        .then_with(|| rpmvercmp(left_version, right_version))
        .then_with(|| rpmvercmp(left_release, right_release))
}

fn split_epoch(version: &str) -> (u64, &str) {
    match version.split_once(':') {
        Some((epoch, rest)) => (epoch.parse().unwrap_or(0), rest),
        None => (0, version),
    }
}

/// rpm's `rpmvercmp`: alternating digit and letter segments, separators
/// ignored, digits newer than letters, `~` older than anything.
fn rpmvercmp(left: &str, right: &str) -> Ordering {
    let separator = |b: &u8| !b.is_ascii_alphanumeric() && *b != b'~';
    let (mut left, mut right) = (left.as_bytes(), right.as_bytes());
    loop {
        while left.first().is_some_and(separator) {
            left = left.get(1..).unwrap_or_default();
        }
        while right.first().is_some_and(separator) {
            right = right.get(1..).unwrap_or_default();
        }
        match (left.first() == Some(&b'~'), right.first() == Some(&b'~')) {
            (true, true) => {
                left = left.get(1..).unwrap_or_default();
                right = right.get(1..).unwrap_or_default();
                continue;
            }
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) => {}
        }
        if left.is_empty() || right.is_empty() {
            return left.len().cmp(&right.len());
        }
        let numeric = left.first().is_some_and(u8::is_ascii_digit);
        let (left_segment, left_rest, right_segment, right_rest) = if numeric {
            let (l, lr) = take_digits(left);
            let (r, rr) = take_digits(right);
            (l, lr, r, rr)
        } else {
            let (l, lr) = take_while(left, u8::is_ascii_alphabetic);
            let (r, rr) = take_while(right, u8::is_ascii_alphabetic);
            (l, lr, r, rr)
        };
        if right_segment.is_empty() {
            return if numeric {
                Ordering::Greater
            } else {
                Ordering::Less
            };
        }
        let order = if numeric {
            compare_digits(left_segment, right_segment)
        } else {
            left_segment.cmp(right_segment)
        };
        if order != Ordering::Equal {
            return order;
        }
        left = left_rest;
        right = right_rest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal, Greater, Less};

    #[test]
    fn orders_debian_versions_like_dpkg() {
        for (left, right, expected) in [
            ("1.0", "1.0", Equal),
            ("1.0-1", "1.0-2", Less),
            ("1.10", "1.9", Greater),
            ("1.0~rc1", "1.0", Less),
            ("1.0", "1.0a", Less),
            ("1.0a", "1.0+", Less),
            ("1:0.1", "2.0", Greater),
            ("2.0-1", "2.0-1.1", Less),
            ("007", "7", Equal),
            ("1.2.3-4", "1.2.3-10", Less),
        ] {
            assert_eq!(compare_deb(left, right), expected, "{left} vs {right}");
            assert_eq!(
                compare_deb(right, left),
                expected.reverse(),
                "{right} vs {left}"
            );
        }
    }

    #[test]
    fn orders_rpm_versions_like_rpm() {
        for (left, right, expected) in [
            ("1.0-1", "1.0-1", Equal),
            ("1.0-1", "1.0-2", Less),
            ("1.10-1", "1.9-1", Greater),
            ("1.0~rc1-1", "1.0-1", Less),
            ("1.0a-1", "1.0-1", Greater),
            ("1.0.a-1", "1.0.1-1", Less),
            ("1:1.0-1", "2.0-1", Greater),
            ("1.0_1-1", "1.0.1-1", Equal),
            ("2.0-1.el9", "2.0-1", Greater),
        ] {
            assert_eq!(compare_rpm(left, right), expected, "{left} vs {right}");
            assert_eq!(
                compare_rpm(right, left),
                expected.reverse(),
                "{right} vs {left}"
            );
        }
    }
}
