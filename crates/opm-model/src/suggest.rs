//! "Did you mean": the known name closest to one that is not known, so a
//! typo in an opkg or node name is answered with the name meant. Pure: the
//! caller brings the names it knows.

/// The name of `known` closest to `wanted` by edit distance (insertions,
/// deletions, substitutions and swaps of two neighbours each count one),
/// when it is close enough to be a typo: at most one edit for short names,
/// up to a third of the name's length for longer ones. Ties go to the
/// alphabetically first; `wanted` itself is never suggested.
pub fn closest<'a>(wanted: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wanted_chars: Vec<char> = wanted.chars().collect();
    let allowed = (wanted_chars.len() / 3).max(1);
    known
        .into_iter()
        .filter(|name| *name != wanted)
        .map(|name| (distance(&wanted_chars, name), name))
        .filter(|(distance, _)| *distance <= allowed)
        .min()
        .map(|(_, name)| name)
}

/// `message` with " (did you mean 'MEANT'?)" after its first `'UNKNOWN'`
/// (at the end when it does not quote it).
pub fn did_you_mean(message: &str, unknown: &str, meant: &str) -> String {
    let quoted = format!("'{unknown}'");
    let hint = format!(" (did you mean '{meant}'?)");
    match message.find(&quoted) {
        Some(at) => {
            let end = at + quoted.len();
            format!("{}{hint}{}", &message[..end], &message[end..])
        }
        None => format!("{message}{hint}"),
    }
}

/// The optimal-string-alignment distance between `a` and `b`.
fn distance(a: &[char], b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // rows[i][j]: the distance between a[..i] and b[..j].
    let mut rows = vec![vec![0_usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::closest;

    const OPKGS: [&str; 5] = ["c3", "slurm", "torque", "ganglia", "jobqueue"];

    #[test]
    fn a_typo_finds_the_name_meant() {
        // one substitution, deletion, insertion, swap
        assert_eq!(closest("slurn", OPKGS), Some("slurm"));
        assert_eq!(closest("slum", OPKGS), Some("slurm"));
        assert_eq!(closest("slurmm", OPKGS), Some("slurm"));
        assert_eq!(closest("sulrm", OPKGS), Some("slurm"));
        assert_eq!(closest("c4", OPKGS), Some("c3"));
        // a third of a longer name may differ
        assert_eq!(closest("jobqeue", OPKGS), Some("jobqueue"));
        assert_eq!(closest("jbqeue", OPKGS), Some("jobqueue"));
    }

    #[test]
    fn nothing_close_suggests_nothing() {
        assert_eq!(closest("pbs", OPKGS), None);
        assert_eq!(closest("sl", OPKGS), None);
        assert_eq!(closest("slurm", ["c3"]), None);
        assert_eq!(closest("anything", []), None);
        // The name itself is no suggestion.
        assert_eq!(closest("slurm", ["slurm"]), None);
    }

    #[test]
    fn ties_go_to_the_alphabetically_first() {
        assert_eq!(closest("node3", ["node2", "node1", "node4"]), Some("node1"));
        assert_eq!(closest("node3", ["node4", "node2"]), Some("node2"));
    }

    #[test]
    fn names_are_compared_by_character_not_byte() {
        assert_eq!(closest("nöde1", ["node1"]), Some("node1"));
    }
}
