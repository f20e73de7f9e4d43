//! Opkg versions: `[epoch:]upstream-release`, compared the way dpkg does.

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

/// A version both dpkg and rpm accept: `[epoch:]upstream[-release]`, where
/// the last `-` splits off the release.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Version {
    /// The epoch, when one is written.
    pub epoch: Option<u32>,
    /// The upstream version: starts with a digit; letters, digits, `.`, `+`, `~`.
    pub upstream: String,
    /// The packaging release, when one is written; letters, digits, `.`, `+`, `~`.
    pub release: Option<String>,
}

/// Why a version string is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("version '{given}' is not usable: {reason}")]
pub struct VersionError {
    /// The string as given.
    pub given: String,
    /// The broken rule.
    pub reason: &'static str,
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '~')
}

impl Version {
    /// Parses `[epoch:]upstream[-release]`; the characters allowed are the
    /// ones both dpkg and rpm accept.
    pub fn parse(given: &str) -> Result<Version, VersionError> {
        let fail = |reason| VersionError {
            given: given.to_owned(),
            reason,
        };
        let (epoch, rest) = match given.split_once(':') {
            Some((epoch, rest)) => {
                if epoch.is_empty() || !epoch.chars().all(|c| c.is_ascii_digit()) {
                    return Err(fail("the epoch before ':' must be a number"));
                }
                let epoch = epoch
                    .parse::<u32>()
                    .map_err(|_| fail("the epoch is too large"))?;
                (Some(epoch), rest)
            }
            None => (None, given),
        };
        let (upstream, release) = match rest.rsplit_once('-') {
            Some((upstream, release)) => {
                if release.is_empty() {
                    return Err(fail("nothing after the last '-'"));
                }
                if !release.chars().all(allowed) {
                    return Err(fail(
                        "the release may hold only letters, digits, '.', '+' and '~'",
                    ));
                }
                (upstream, Some(release.to_owned()))
            }
            None => (rest, None),
        };
        if upstream.is_empty() {
            return Err(fail("the upstream version is empty"));
        }
        if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(fail("the upstream version must start with a digit"));
        }
        if !upstream.chars().all(allowed) {
            return Err(fail(
                "the upstream version may hold only letters, digits, '.', '+' and '~'",
            ));
        }
        Ok(Version {
            epoch,
            upstream: upstream.to_owned(),
            release,
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(epoch) = self.epoch {
            write!(f, "{epoch}:")?;
        }
        f.write_str(&self.upstream)?;
        if let Some(release) = &self.release {
            write!(f, "-{release}")?;
        }
        Ok(())
    }
}

/// dpkg's order: epoch (missing = 0), then upstream, then release (missing =
/// empty), so `1.10 > 1.9` and `1.0~rc1 < 1.0`.
impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .unwrap_or(0)
            .cmp(&other.epoch.unwrap_or(0))
            .then_with(|| compare_part(&self.upstream, &other.upstream))
            .then_with(|| {
                compare_part(
                    self.release.as_deref().unwrap_or(""),
                    other.release.as_deref().unwrap_or(""),
                )
            })
            .then_with(|| self.release.is_some().cmp(&other.release.is_some()))
            .then_with(|| self.epoch.is_some().cmp(&other.epoch.is_some()))
            // Equal for dpkg but written differently ("1.01" and "1.1"): the
            // text decides, so that the order agrees with `Eq`.
            .then_with(|| self.upstream.cmp(&other.upstream))
            .then_with(|| self.release.cmp(&other.release))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The changelog's highest version: the greatest by upstream and release
/// (dpkg's order), the epoch only breaking ties.
///
/// Epochs do not lead because real changelogs dropped them: ganglia's and
/// torque's list `3.7.0-1` first and `1:3.0.4-4` further down; with the
/// epoch leading, every later entry would lose to the old one and the
/// version could never change again.
pub fn highest(versions: &[Version]) -> Option<&Version> {
    versions.iter().max_by(|a, b| {
        compare_part(&a.upstream, &b.upstream)
            .then_with(|| {
                compare_part(
                    a.release.as_deref().unwrap_or(""),
                    b.release.as_deref().unwrap_or(""),
                )
            })
            .then_with(|| a.cmp(b))
    })
}

/// dpkg's `verrevcmp`: alternating non-digit and digit runs; in non-digit
/// runs `~` sorts before everything (even the end), letters before other
/// characters; digit runs compare as numbers.
pub fn compare_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    while !a.is_empty() || !b.is_empty() {
        loop {
            let ca = a.first().copied().filter(|c| !c.is_ascii_digit());
            let cb = b.first().copied().filter(|c| !c.is_ascii_digit());
            if ca.is_none() && cb.is_none() {
                break;
            }
            let order = weight(ca).cmp(&weight(cb));
            if order != Ordering::Equal {
                return order;
            }
            a = &a[1..];
            b = &b[1..];
        }
        let digits_a = a.iter().take_while(|c| c.is_ascii_digit()).count();
        let digits_b = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let (na, nb) = (trim_zeros(&a[..digits_a]), trim_zeros(&b[..digits_b]));
        let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
        if order != Ordering::Equal {
            return order;
        }
        a = &a[digits_a..];
        b = &b[digits_b..];
    }
    Ordering::Equal
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|c| **c == b'0').count();
    &digits[zeros..]
}

fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_epoch_upstream_release() {
        assert_eq!(
            v("1:2.1.8-1"),
            Version {
                epoch: Some(1),
                upstream: "2.1.8".into(),
                release: Some("1".into())
            }
        );
        assert_eq!(v("2.3.6-5.1").release.as_deref(), Some("5.1"));
        assert_eq!(v("1.0").release, None);
        assert_eq!(v("1:2.1.8-1").to_string(), "1:2.1.8-1");
        assert_eq!(v("1.0").to_string(), "1.0");
    }

    #[test]
    fn the_last_dash_splits_the_release() {
        // rpm forbids '-' in a version, so an upstream part holding one is
        // refused rather than silently split elsewhere.
        let error = Version::parse("1.0-2-3").unwrap_err();
        assert!(error.reason.contains("upstream"), "{error}");
        assert_eq!(v("1.0.2-3").release.as_deref(), Some("3"));
    }

    #[test]
    fn unusable_versions_say_why() {
        for (given, reason) in [
            ("", "empty"),
            ("x:1", "epoch"),
            (":1", "epoch"),
            ("99999999999:1", "too large"),
            ("1.0-", "after the last"),
            ("-1", "empty"),
            ("abc-1", "start with a digit"),
            ("1.0 beta-1", "only letters"),
            ("1.0-1_2", "release may hold"),
        ] {
            let error = Version::parse(given).unwrap_err();
            assert!(error.to_string().contains(reason), "{given}: {error}");
        }
    }

    #[test]
    fn the_highest_entry_ignores_epochs_unless_tied() {
        let versions: Vec<_> = ["3.7.0-1", "3.1.1-1", "1:3.0.4-4", "3.10.0-1~rc1"]
            .into_iter()
            .map(v)
            .collect();
        assert_eq!(highest(&versions), Some(&v("3.10.0-1~rc1")));
        let tied = [v("1.0-1"), v("2:1.0-1"), v("1:1.0-1")];
        assert_eq!(highest(&tied), Some(&v("2:1.0-1")));
        assert_eq!(highest(&[]), None);
    }

    #[test]
    fn compares_like_dpkg() {
        let ordered = [
            "0.9", "1.0~rc1", "1.0", "1.0-1", "1.0-1.1", "1.0-2", "1.0a", "1.0+b", "1.9", "1.10",
            "2.4.4-1", "1:0.1",
        ];
        for pair in ordered.windows(2) {
            assert!(v(pair[0]) < v(pair[1]), "{} < {}", pair[0], pair[1]);
            assert!(v(pair[1]) > v(pair[0]));
        }
        // Equal for dpkg, but not the same text: a total order still tells them apart.
        assert_ne!(v("1.01").cmp(&v("1.1")), Ordering::Equal);
        assert_eq!(compare_part("1.01", "1.1"), Ordering::Equal);
        assert_eq!(compare_part("a", "+"), Ordering::Less);
        assert_eq!(compare_part("~", ""), Ordering::Less);
    }
}
