//! docs/architecture.md's crate graph says every real arrow and no other:
//! its table is compared with the `[dependencies]` and
//! `[dev-dependencies]` of every crate's Cargo.toml.

// Test code: fixed files of the repository.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

type Graph = BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>;

fn repository() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// The workspace crates each crate names in a dependency table.
fn named(manifest: &toml::Table, table: &str) -> BTreeSet<String> {
    manifest
        .get(table)
        .and_then(toml::Value::as_table)
        .map(|deps| {
            deps.keys()
                .filter(|name| *name == "opm" || name.starts_with("opm-"))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn from_manifests() -> Graph {
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(repository().join("crates")).unwrap() {
        let dir = entry.unwrap().path();
        let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        let manifest: toml::Table = text.parse().unwrap();
        let name = manifest["package"]["name"].as_str().unwrap().to_owned();
        graph.insert(
            name,
            (
                named(&manifest, "dependencies"),
                named(&manifest, "dev-dependencies"),
            ),
        );
    }
    graph
}

/// The `| crate | depends on | in its tests also |` table under "## Crate
/// graph".
fn from_doc() -> Graph {
    let doc = std::fs::read_to_string(repository().join("docs/architecture.md")).unwrap();
    let section = doc.split("## Crate graph").nth(1).unwrap();
    let names = |cell: &str| -> BTreeSet<String> {
        cell.split(',')
            .map(|name| name.trim().trim_matches('`').to_owned())
            .filter(|name| !name.is_empty())
            .collect()
    };
    section
        .lines()
        .skip_while(|line| !line.starts_with("| crate |"))
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
            let name = cells[0].trim().trim_matches('`').to_owned();
            (name, (names(cells[1]), names(cells[2])))
        })
        .collect()
}

#[test]
fn the_crate_graph_in_the_docs_is_the_one_in_the_manifests() {
    assert_eq!(from_doc(), from_manifests());
}
