//! What a parsed opkg means: every element of the full fixture, effective
//! dependencies over every filter combination, opkg-to-opkg relations,
//! the scripts inventory and the configurator defaults.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use opm_model::{Name, NameKind, Part, Script};
use opm_opkg::{
    AuthorCategory, Class, Configurator, Dist, EdgeKind, FieldKind, Graph, Inventory, Level, Opkg,
    Rel, Relation,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures")).join(name)
}

fn full() -> Opkg {
    let loaded = Opkg::from_path_with(fixture("full"), Level::Strict).unwrap();
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    loaded.opkg
}

#[test]
fn every_element_of_the_full_fixture_is_read() {
    let opkg = full();
    assert_eq!(opkg.name.as_str(), "demo+tools");
    assert_eq!(opkg.version.to_string(), "1.10-2");
    assert_eq!(opkg.class, Some(Class::ThirdParty));
    assert_eq!(opkg.summary, "A demo opkg that uses every element");
    assert_eq!(
        opkg.description.as_deref(),
        Some("First line of the description.\n    Second line & more.")
    );
    assert_eq!(opkg.license.as_deref(), Some("BSD"));
    assert_eq!(opkg.group(), Some("Application/System"));
    assert_eq!(opkg.groups.len(), 2);
    assert_eq!(opkg.uri.as_deref(), Some("http://example.org/demo"));
    let names: Vec<_> = opkg.authors.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Ada Upstream", "Max Maintainer", "Uli Uploader"]);
    let ada = &opkg.authors[0];
    assert_eq!(ada.nickname.as_deref(), Some("ada"));
    assert_eq!(ada.email, "ada@example.org");
    assert_eq!(ada.institution.as_deref(), Some("Example Lab"));
    assert_eq!((ada.begin_year, ada.end_year), (Some(2004), Some(2007)));
    let categories: Vec<_> = opkg.authors.iter().map(|a| a.category).collect();
    assert_eq!(
        categories,
        [
            Some(AuthorCategory::Upstream),
            Some(AuthorCategory::Maintainer),
            Some(AuthorCategory::Uploader)
        ]
    );
    assert_eq!(opkg.filters.dists.len(), 2);
    assert_eq!(
        opkg.filters.dists[1].constraint,
        Some((Rel::GreaterOrEqual, "8".to_owned()))
    );
    assert_eq!(opkg.filters.arches, ["amd64", "x86_64"]);
    assert_eq!(opkg.relations.len(), 4);
    assert_eq!(opkg.server_deps.len(), 7);
    assert_eq!(opkg.client_deps.len(), 2);
    assert_eq!(opkg.common_deps.len(), 2);
    assert_eq!(opkg.api_deps.len(), 1);
    assert_eq!(
        opkg.server_deps[2].packages[0],
        Relation {
            name: "server-dep-debian-amd64".into(),
            constraint: Some((Rel::GreaterOrEqual, "1:2.0-1".into()))
        }
    );
    assert_eq!(opkg.changelog.len(), 2);
    let entry = &opkg.changelog[0].entries[0];
    assert_eq!(entry.author_name, "Max Maintainer");
    assert_eq!(entry.date, "2024-05-01T10:00:00+02:00");
    assert_eq!(entry.closes, [12, 34]);
    assert_eq!(entry.items, ["Second release.", "Trimmed item."]);
}

fn names(relations: &[Relation]) -> Vec<&str> {
    relations.iter().map(|r| r.name.as_str()).collect()
}

/// (part, dist, arch, the names it requires there).
type DepsCase = (
    Part,
    Option<&'static str>,
    Option<&'static str>,
    &'static [&'static str],
);

#[test]
fn effective_deps_over_every_filter_combination() {
    let opkg = full();
    let cases: &[DepsCase] = &[
        (
            Part::Server,
            Some("debian"),
            Some("amd64"),
            &[
                "server-dep-debian-amd64",
                "server-dep-everywhere",
                "common-dep",
                "opkg-base-client",
                "mpi",
            ],
        ),
        // x86_64 is amd64 spelled the RPM way (issue 17 #3): the same blocks.
        (
            Part::Server,
            Some("debian"),
            Some("x86_64"),
            &[
                "server-dep-debian-amd64",
                "server-dep-everywhere",
                "common-dep",
                "opkg-base-client",
                "mpi",
            ],
        ),
        (
            Part::Server,
            Some("rhel-8"),
            Some("x86_64"),
            &[
                "server-dep-rhel8",
                "server-dep-everywhere",
                "common-dep",
                "mpi",
            ],
        ),
        (
            Part::Server,
            Some("rhel-9"),
            Some("x86_64"),
            &[
                "server-dep-rhel-after-8",
                "server-dep-everywhere",
                "common-dep",
                "mpi",
            ],
        ),
        (
            Part::Server,
            Some("rhel"),
            Some("x86_64"),
            &["server-dep-everywhere", "common-dep", "mpi"],
        ),
        (
            Part::Server,
            None,
            None,
            &["server-dep-everywhere", "common-dep", "mpi"],
        ),
        (
            Part::Client,
            Some("fc"),
            Some("i386"),
            &["client-dep-rpm", "common-dep", "common-dep-i386", "mpi"],
        ),
        (
            Part::Client,
            Some("debian"),
            Some("amd64"),
            &["client-dep-debian", "common-dep", "opkg-base-client", "mpi"],
        ),
        (Part::Client, Some("suse"), None, &["common-dep", "mpi"]),
        (Part::Api, Some("debian"), Some("amd64"), &["api-dep"]),
        (Part::Api, None, None, &["api-dep"]),
    ];
    for (part, dist, arch, expected) in cases {
        let dist = dist.map(Dist::parse);
        let deps = opkg.effective_deps(*part, dist.as_ref(), *arch);
        assert_eq!(
            names(&deps.requires),
            *expected,
            "{part} on {dist:?}/{arch:?}"
        );
    }
    let debian = Dist::parse("debian");
    let server = opkg.effective_deps(Part::Server, Some(&debian), Some("x86_64"));
    assert_eq!(
        names(&server.conflicts),
        ["server-conflict-x86_64", "old-demo"]
    );
    assert_eq!(
        server.conflicts[1].constraint,
        Some((Rel::Less, "2.0".into()))
    );
    assert_eq!(
        names(&server.provides),
        ["demo-server-cap", "demo-capability"]
    );
    assert_eq!(names(&server.suggests), ["server-suggestion"]);
    let client = opkg.effective_deps(Part::Client, Some(&debian), Some("amd64"));
    assert_eq!(names(&client.conflicts), ["old-demo"]);
    assert_eq!(names(&client.provides), ["demo-capability"]);
    assert!(client.suggests.is_empty());
    let api = opkg.effective_deps(Part::Api, Some(&debian), Some("amd64"));
    assert!(api.conflicts.is_empty() && api.provides.is_empty());
}

#[test]
fn package_wide_filters_say_where_the_opkg_is_available() {
    let opkg = full();
    for (dist, arch, available) in [
        ("debian", "amd64", true),
        ("debian", "i386", false),
        ("rhel-8", "x86_64", true),
        ("rhel-10", "x86_64", true),
        ("rhel-7", "x86_64", false),
        ("rhel", "x86_64", false),
        ("fc", "amd64", false),
    ] {
        let dist = Dist::parse(dist);
        assert_eq!(
            opkg.available_on(Some(&dist), Some(arch)),
            available,
            "{dist}/{arch}"
        );
    }
    assert!(!opkg.available_on(None, None));
}

/// An opkg called `name` with `extra` elements before its changelog.
fn opkg(name: &str, extra: &str) -> Opkg {
    let text = include_str!("fixtures/minimal/config.xml")
        .replace("<name>minimal</name>", &format!("<name>{name}</name>"))
        .replace("<changelog>", &format!("{extra}<changelog>"));
    Opkg::from_str(&text, name, Level::Strict).unwrap().opkg
}

fn name(raw: &str) -> Name {
    Name::new(NameKind::Opkg, raw).unwrap()
}

#[test]
fn opkgs_relate_through_native_names_and_capabilities() {
    let opkgs = [
        opkg(
            "demo",
            "<conflicts><pkg>opkg-rival-server</pkg></conflicts>\
             <requires><filters><dist>debian</dist></filters><pkg>opkg-base-client</pkg></requires>\
             <requires><pkg>mpi</pkg></requires>\
             <apiDeps><requires><pkg>opkg-tools</pkg></requires></apiDeps>",
        ),
        opkg("base", ""),
        opkg("tools", ""),
        opkg("rival", ""),
        opkg(
            "openmpi",
            "<provides><pkg>mpi</pkg></provides><requires><pkg>mpi</pkg></requires>",
        ),
        opkg(
            "mpich",
            "<serverDeps><provides><pkg>mpi</pkg></provides></serverDeps>",
        ),
    ];
    let debian = Dist::parse("debian");
    let graph = Graph::of(&opkgs, Some(&debian), Some("amd64"));
    let on = |g: &Graph, raw: &str| -> Vec<String> {
        g.depends_on(&name(raw))
            .iter()
            .map(|n| n.to_string())
            .collect()
    };
    assert_eq!(on(&graph, "demo"), ["tools", "base", "openmpi", "mpich"]);
    assert!(on(&graph, "openmpi").is_empty(), "no edge to itself");
    assert!(graph.conflict(&name("demo"), &name("rival")));
    assert!(graph.conflict(&name("rival"), &name("demo")));
    assert!(!graph.conflict(&name("demo"), &name("base")));
    let dependents: Vec<_> = graph
        .dependents_of(&name("base"))
        .iter()
        .map(|n| n.to_string())
        .collect();
    assert_eq!(dependents, ["demo"]);
    let edge = graph.edges.iter().find(|e| e.to == name("base")).unwrap();
    assert_eq!((edge.kind, edge.part), (EdgeKind::Depends, Part::Server));
    assert_eq!(edge.via.name, "opkg-base-client");

    let rhel = Graph::of(&opkgs, Some(&Dist::parse("rhel")), None);
    assert_eq!(on(&rhel, "demo"), ["tools", "openmpi", "mpich"]);
}

#[test]
fn the_full_fixture_inventory() {
    let inventory = Inventory::of_dir(&fixture("full")).unwrap();
    let hooks: Vec<_> = inventory
        .scripts
        .iter()
        .map(|s| (s.script, s.part, s.legacy))
        .collect();
    assert_eq!(
        hooks,
        [
            (Script::ApiPreInstall, Part::Api, false),
            (Script::ServerPostInstall, Part::Server, false),
            (Script::ClientPostInstall, Part::Client, false),
            (Script::ApiPostClientdef, Part::Api, true),
            (Script::ApiPostDeploy, Part::Api, false),
        ]
    );
    assert_eq!(
        inventory.files_of(Part::Client),
        ["client-helper.sh", "client-post-install"]
    );
    assert_eq!(
        inventory.files_of(Part::Api),
        [
            "DEMO.pm",
            "api-post-deploy",
            "api-pre-install",
            "post_clients"
        ]
    );
}

#[test]
fn the_full_fixture_configurator() {
    let fields = Configurator::from_path(&fixture("full/configurator.html")).unwrap();
    let summary: Vec<_> = fields
        .iter()
        .map(|f| (f.name.as_str(), f.kind, f.defaults.join("|")))
        .collect();
    assert_eq!(
        summary,
        [
            ("cluster_name", FieldKind::Text, "OSCAR Cluster".to_owned()),
            ("port", FieldKind::Text, "3128".to_owned()),
            ("enable", FieldKind::Checkbox, "YES".to_owned()),
            ("extra", FieldKind::Checkbox, String::new()),
            ("mode", FieldKind::Radio, "safe".to_owned()),
            ("level", FieldKind::Select, "mid".to_owned()),
            ("features", FieldKind::MultiSelect, "a|c".to_owned()),
            ("notes", FieldKind::Textarea, "Some notes".to_owned()),
            ("secret", FieldKind::Hidden, "h".to_owned()),
        ]
    );
    let error = Configurator::from_path(&fixture("full/missing.html")).unwrap_err();
    assert!(error.to_string().starts_with("cannot read "), "{error}");
}

#[test]
fn latin1_configurators_are_decoded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("configurator.html");
    std::fs::write(&file, b"<form><input name=who value=\"M\xfcller\"></form>").unwrap();
    let fields = Configurator::from_path(&file).unwrap();
    assert_eq!(fields[0].defaults, ["Müller"]);
}
