//! Fuzzing through proptest: arbitrary bytes and mutated real files must
//! never panic or hang the reader, and what it reports must hold together.
//!
//! CI runs a few hundred cases. For a long run (and a count of executions):
//! `OPM_FUZZ_CASES=200000 cargo test --release -p opm-opkg --test fuzz -- --nocapture`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use opm_model::Part;
use opm_opkg::{Configurator, Dist, Graph, Level, Opkg, OpkgError, Severity, Version};
use proptest::prelude::*;

static RUNS: AtomicU64 = AtomicU64::new(0);

/// Counts one execution; a long run prints its progress every 100000.
fn count_run() {
    let runs = RUNS.fetch_add(1, Ordering::Relaxed) + 1;
    if runs.is_multiple_of(100_000) {
        eprintln!("fuzz: {runs} executions");
    }
}

fn cases() -> u32 {
    std::env::var("OPM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// The seeds for `file`, read once per test binary.
fn seeds(file: &'static str) -> &'static [Vec<u8>] {
    static CONFIGS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    static FORMS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    let cell = if file == "config.xml" {
        &CONFIGS
    } else {
        &FORMS
    };
    cell.get_or_init(|| read_seeds(file))
}

/// Real config.xml and configurator.html files to mutate: our fixtures,
/// plus the corpus when it is there (read in place).
fn read_seeds(file: &str) -> Vec<Vec<u8>> {
    let mut dirs = vec![
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/full")),
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/minimal"
        )),
    ];
    let corpus = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/opkgs"
    ));
    match std::fs::read_dir(&corpus) {
        Ok(entries) => dirs.extend(entries.map(|e| e.unwrap().path())),
        Err(_) => eprintln!("SKIPPED: ../shared not present; fuzzing our fixtures only"),
    }
    dirs.sort();
    dirs.iter()
        .filter_map(|dir| std::fs::read(dir.join(file)).ok())
        .collect()
}

/// Fragments that make parsers take unusual paths.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"&",
    b"&amp;",
    b"&#x0;",
    b"&#65;",
    b"&bogus;",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"-->",
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
    b"encoding=\"UTF-16\"",
    b"encoding=\"klingon\"",
    b"\"",
    b"'",
    b"=",
    b"\xff",
    b"\xc3",
    b"\xc3\xa9",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"<name>",
    b"</name>",
    b"<changelog>",
    b"</changelog>",
    b"<versionEntry version=\"",
    b"1:",
    b"-",
    b"~",
    b"<pkg rel=\"",
    b"<dist version=\"5\">",
    b"<filters>",
    b"</filters>",
    b"xmlns=\"x\"",
    b"<version>",
    b"<package>",
    b"\n",
    b"\r",
    b"\t",
    b"<input type=radio name=",
    b"<select multiple name=s><option selected>",
    b"<form>",
    b"<textarea name=t>",
    b"checked",
    b"<script>",
    b"<table>",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, usize),
    InsertBytes(usize, Vec<u8>),
    Truncate(usize),
    Duplicate(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), 1..64_usize).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Mutation::InsertBytes(p, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1..200_usize, any::<usize>())
            .prop_map(|(p, n, to)| Mutation::Duplicate(p, n, to)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        let at = |p: usize| if len == 0 { 0 } else { p % (len + 1) };
        match mutation {
            Mutation::Flip(p, b) if len > 0 => bytes[p % len] = *b,
            Mutation::Flip(..) => {}
            Mutation::Delete(p, n) => {
                let start = at(*p);
                let end = (start + n).min(len);
                bytes.drain(start..end);
            }
            Mutation::Insert(p, t) => {
                let start = at(*p);
                bytes.splice(start..start, TOKENS[*t].iter().copied());
            }
            Mutation::InsertBytes(p, b) => {
                let start = at(*p);
                bytes.splice(start..start, b.iter().copied());
            }
            Mutation::Truncate(p) => bytes.truncate(at(*p)),
            Mutation::Duplicate(p, n, to) => {
                let start = at(*p);
                let end = (start + n).min(len);
                let piece = bytes[start..end].to_vec();
                let to = at(*to);
                bytes.splice(to..to, piece);
            }
        }
    }
    bytes
}

/// Reads `bytes` at both levels and checks that the reports hold together.
fn read_and_check(bytes: &[u8]) {
    count_run();
    let default = Opkg::from_bytes(bytes, "f.xml", Level::Default);
    let strict = Opkg::from_bytes(bytes, "f.xml", Level::Strict);
    for outcome in [&default, &strict] {
        let diagnostics = match outcome {
            Ok(loaded) => {
                assert!(
                    loaded
                        .warnings
                        .iter()
                        .all(|d| d.severity == Severity::Warning)
                );
                &loaded.warnings
            }
            Err(OpkgError::Invalid { diagnostics }) => {
                assert!(diagnostics.iter().any(|d| d.severity == Severity::Error));
                diagnostics
            }
            Err(other) => panic!("unexpected error kind: {other}"),
        };
        for d in diagnostics {
            assert!(d.line >= 1 && d.column >= 1, "{d}");
            assert_eq!(d.file, "f.xml");
            assert!(!d.message.is_empty());
        }
    }
    // Strict is stricter: whatever it accepts, the default level accepts.
    if strict.is_ok() {
        assert!(
            default.is_ok(),
            "strict accepted, default refused: {default:?}"
        );
    }
    if let Ok(loaded) = &default {
        let opkg = &loaded.opkg;
        let version = opkg.version.to_string();
        assert_eq!(Version::parse(&version).as_ref(), Ok(&opkg.version));
        for part in Part::ALL {
            for dist in [
                None,
                Some(Dist::parse("debian")),
                Some(Dist::parse("rhel-5")),
            ] {
                let _ = opkg.effective_deps(part, dist.as_ref(), Some("x86_64"));
            }
        }
        let _ = Graph::of(std::slice::from_ref(opkg), None, None);
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        read_and_check(&bytes);
    }

    #[test]
    fn mutated_config_files_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        let seeds = seeds("config.xml");
        let bytes = mutate(seed.get(seeds).clone(), &mutations);
        read_and_check(&bytes);
    }

    #[test]
    fn mutated_configurators_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..8),
    ) {
        count_run();
        let seeds = seeds("configurator.html");
        let bytes = mutate(seed.get(seeds).clone(), &mutations);
        let text = String::from_utf8_lossy(&bytes);
        for field in Configurator::parse(&text) {
            prop_assert!(!field.name.is_empty());
        }
    }

    #[test]
    fn arbitrary_versions_parse_or_say_why(text in "[0-9a-z:.~+-]{0,12}") {
        count_run();
        match Version::parse(&text) {
            // Display may normalise the epoch ("01:" -> "1:"), never more.
            Ok(version) => prop_assert_eq!(Version::parse(&version.to_string()), Ok(version)),
            Err(error) => prop_assert!(error.to_string().starts_with("version '")),
        }
    }
}

#[test]
fn mutations_reach_every_seed_file() {
    // The seed loader must find our fixtures at least; otherwise the
    // mutation properties would fuzz nothing.
    assert!(seeds("config.xml").len() >= 2);
    assert!(!seeds("configurator.html").is_empty());
}
