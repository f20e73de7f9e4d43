//! Opkg scripts that tell, with real child processes and no timing
//! assertions, whether two of them ran at the same time: a pair of
//! [`rendezvous`] scripts passes only side by side, a pair of
//! [`exclusive`] scripts fails when it overlaps, and [`one_at_a_time`]
//! reads the log the latter write.

use std::path::Path;

/// A `/bin/sh` script that marks `me` as started in `sync`, then polls (at
/// most 10 s) for `other`'s mark: it passes only when the two run at once,
/// and fails naming `other` when it waited in vain.
pub fn rendezvous(sync: &Path, me: &str, other: &str) -> String {
    let sync = sync.display();
    format!(
        "#!/bin/sh
touch '{sync}/{me}'
tries=0
while [ ! -e '{sync}/{other}' ]; do
    tries=$((tries + 1))
    if [ \"$tries\" -gt 200 ]; then
        echo '{other} never ran beside {me}' >&2
        exit 1
    fi
    sleep 0.05
done
"
    )
}

/// A `/bin/sh` script that takes the lock directory `sync/lock` (failing
/// when another script holds it), logs `enter me` and `leave me` to
/// `sync/log`, and keeps the lock until `other` has started or about 2 s
/// have passed. Run side by side, `other` starts inside that window and
/// finds the lock taken, so an overlap cannot slip by as a lucky
/// ordering; run one after another, `other` only starts once this one is
/// done, and only the first of the pair waits out the window.
pub fn exclusive(sync: &Path, me: &str, other: &str) -> String {
    let sync = sync.display();
    format!(
        "#!/bin/sh
touch '{sync}/started-{me}'
if ! mkdir '{sync}/lock'; then
    echo 'overlap: {me} started while another script held the lock' >&2
    exit 1
fi
echo 'enter {me}' >> '{sync}/log'
tries=0
while [ ! -e '{sync}/started-{other}' ] && [ \"$tries\" -lt 40 ]; do
    tries=$((tries + 1))
    sleep 0.05
done
echo 'leave {me}' >> '{sync}/log'
rmdir '{sync}/lock'
"
    )
}

/// Checks the log [`exclusive`] scripts wrote: `scripts` runs, each one's
/// `leave` right after its `enter`. The error quotes the log.
///
/// # Errors
/// When the log shows another number of runs or two runs interleaved.
pub fn one_at_a_time(log: &str, scripts: usize) -> Result<(), String> {
    let lines: Vec<&str> = log.lines().collect();
    if lines.len() != 2 * scripts {
        return Err(format!("{scripts} runs expected, the log says:\n{log}"));
    }
    for pair in lines.chunks(2) {
        let me = pair[0].strip_prefix("enter ");
        let nested = me.is_some_and(|me| pair.get(1) == Some(&format!("leave {me}").as_str()));
        if !nested {
            return Err(format!("runs overlapped or were cut short:\n{log}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::one_at_a_time;

    #[test]
    fn only_nested_pairs_are_one_at_a_time() {
        assert!(one_at_a_time("enter a\nleave a\nenter b\nleave b\n", 2).is_ok());
        assert!(one_at_a_time("enter a\nenter b\nleave a\nleave b\n", 2).is_err());
        assert!(one_at_a_time("enter a\nleave a\n", 2).is_err());
        assert!(one_at_a_time("enter a\nleave b\n", 1).is_err());
    }
}
