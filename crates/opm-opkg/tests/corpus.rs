//! The real OSCAR opkg descriptions in `../shared/corpus`, read in place.

// Helpers outside #[test] functions may unwrap too: a panic fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use opm_opkg::{Level, Opkg, Severity};

fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus"
    ));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: ../shared not present (no corpus at {})",
            dir.display()
        );
        None
    }
}

/// (opkg, xsd verdict is valid) from VERDICTS.tsv.
fn verdicts(corpus: &std::path::Path) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(corpus.join("VERDICTS.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next().unwrap().to_owned();
            let verdict = fields.next().unwrap();
            assert!(verdict == "valid" || verdict == "invalid", "{line}");
            (name, verdict == "valid")
        })
        .collect()
}

#[test]
fn strict_verdicts_equal_the_xsd_verdicts() {
    let Some(corpus) = corpus() else { return };
    let verdicts = verdicts(&corpus);
    assert!(
        verdicts.len() >= 17,
        "VERDICTS.tsv lists {} opkgs",
        verdicts.len()
    );
    for (name, valid) in verdicts {
        let outcome = Opkg::from_path_with(corpus.join("opkgs").join(&name), Level::Strict);
        match (&outcome, valid) {
            (Ok(_), true) | (Err(_), false) => {}
            (Ok(loaded), false) => panic!(
                "{name}: strict accepted an xsd-invalid file: {:?}",
                loaded.warnings
            ),
            (Err(error), true) => panic!(
                "{name}: strict refused an xsd-valid file: {error}\n{:#?}",
                error.diagnostics()
            ),
        }
    }
}

#[test]
fn default_level_accepts_every_new_format_file() {
    let Some(corpus) = corpus() else { return };
    for (name, _) in verdicts(&corpus) {
        if name == "old-format" {
            continue;
        }
        let loaded = Opkg::from_path(corpus.join("opkgs").join(&name))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        // ganglia and torque list an old epoch-1 entry below epoch-less ones.
        let epoch = |w: &opm_opkg::Diagnostic| w.message.contains("has a higher epoch");
        let date = |w: &opm_opkg::Diagnostic| w.message.contains("is not an xs:dateTime");
        let expected: &[fn(&opm_opkg::Diagnostic) -> bool] = match name.as_str() {
            "ganglia" => &[epoch],
            "torque" => &[epoch, date],
            _ => &[],
        };
        assert_eq!(
            loaded.warnings.len(),
            expected.len(),
            "{name}: {:#?}",
            loaded.warnings
        );
        for is_expected in expected {
            assert!(
                loaded.warnings.iter().any(is_expected),
                "{name}: {:#?}",
                loaded.warnings
            );
        }
        // The name comes from <name>, not from the directory.
        let expected_name = match name.as_str() {
            "opkgc-sample" => "sample-package",
            "mta-config" => "mtaconfig",
            other => other,
        };
        assert_eq!(loaded.opkg.name.as_str(), expected_name);
    }
}

#[test]
fn torque_is_accepted_with_a_warning_about_its_date() {
    let Some(corpus) = corpus() else { return };
    let loaded = Opkg::from_path(corpus.join("opkgs/torque")).unwrap();
    assert_eq!(loaded.opkg.version.to_string(), "2.4.4-1");
    let date = loaded
        .warnings
        .iter()
        .find(|w| w.message.contains("2014-07-1TT18:59:47+02:00"))
        .unwrap_or_else(|| panic!("{:#?}", loaded.warnings));
    assert_eq!(date.line, 90);
    assert!(date.file.ends_with("torque/config.xml"));
    assert_eq!(date.severity, Severity::Warning);
    let strict = Opkg::from_path_with(corpus.join("opkgs/torque"), Level::Strict).unwrap_err();
    let errors: Vec<_> = strict
        .diagnostics()
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert_eq!(errors[0].line, 90);
}

#[test]
fn old_format_is_refused_in_plain_words() {
    let Some(corpus) = corpus() else { return };
    for level in [Level::Default, Level::Strict] {
        let error = Opkg::from_path_with(corpus.join("opkgs/old-format"), level).unwrap_err();
        let diagnostics = error.diagnostics();
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        assert_eq!(diagnostics[0].line, 19);
        assert!(
            diagnostics[0]
                .message
                .contains("old OSCAR config.xml (a <version> element)"),
            "{}",
            diagnostics[0]
        );
    }
}

#[test]
fn corpus_script_lists_sort_into_hooks_and_helpers() {
    let Some(corpus) = corpus() else { return };
    let mut checked = 0;
    for entry in std::fs::read_dir(corpus.join("opkgs")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(list) = std::fs::read_to_string(dir.join("SCRIPTS")) else {
            continue;
        };
        let names: Vec<&str> = list
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        let inventory = opm_opkg::Inventory::from_names(names.iter().copied());
        assert_eq!(
            inventory.scripts.len() + inventory.helpers.len() + inventory.shadowed.len(),
            names.len(),
            "{}",
            dir.display()
        );
        for script in &inventory.scripts {
            assert!(!script.legacy, "{}: {}", dir.display(), script.file_name);
            assert_eq!(script.part, opm_model::Part::of_file(&script.file_name));
        }
        // openmpi ships no scripts at all; every other list holds a hook.
        assert_eq!(
            inventory.scripts.is_empty(),
            names.is_empty(),
            "{}",
            dir.display()
        );
        checked += 1;
    }
    assert!(checked >= 14, "only {checked} SCRIPTS files");
    let slurm = std::fs::read_to_string(corpus.join("opkgs/slurm/SCRIPTS")).unwrap();
    let inventory = opm_opkg::Inventory::from_names(slurm.lines());
    let helpers: Vec<_> = inventory
        .helpers
        .iter()
        .map(|h| h.file_name.as_str())
        .collect();
    assert_eq!(helpers, ["SLURM.pm", "configurator.html"]);
    let hooks: Vec<_> = inventory
        .scripts
        .iter()
        .map(|s| s.script.file_name())
        .collect();
    assert_eq!(
        hooks,
        [
            "server-post-install",
            "client-post-install",
            "api-post-deploy"
        ]
    );
}

#[test]
fn corpus_configurators_give_their_defaults() {
    use opm_opkg::{Configurator, FieldKind};
    let Some(corpus) = corpus() else { return };
    let read = |name: &str| {
        Configurator::from_path(&corpus.join("opkgs").join(name).join("configurator.html")).unwrap()
    };
    let field = |fields: &[opm_opkg::Field], name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} in {fields:#?}"))
    };
    let ganglia = read("ganglia");
    assert_eq!(ganglia.len(), 8);
    assert_eq!(field(&ganglia, "cluster__name").defaults, ["OSCAR Cluster"]);
    let per_image = field(&ganglia, "gmond_per_image");
    assert_eq!(
        (per_image.kind, per_image.defaults.len()),
        (FieldKind::Checkbox, 0)
    );
    let mta = field(&read("mta-config"), "mta");
    assert_eq!(mta.kind, FieldKind::Radio);
    assert_eq!(mta.defaults, ["postfix"]);
    assert_eq!(mta.choices, ["postfix", "exim", "sendmail"]);
    let nfs = read("nfs");
    assert_eq!(nfs.len(), 13);
    assert_eq!(field(&nfs, "num_nfs_mounts").defaults, ["4"]);
    assert_eq!(field(&nfs, "rsrv_1").defaults, ["nfs_oscar"]);
    assert_eq!(field(&nfs, "rsrv_2").defaults, [""]);
    assert_eq!(field(&read("sis"), "kernel_append").defaults, [""]);
    assert_eq!(field(&read("sge"), "spooltype").defaults, ["classic"]);
    assert_eq!(field(&read("squid"), "port").defaults, ["3128"]);
    let slurm = read("slurm");
    assert_eq!(field(&slurm, "auth_type").defaults, ["auth/munge"]);
    assert_eq!(
        field(&slurm, "checkpoint_type").defaults,
        ["checkpoint/none"]
    );
    assert_eq!(field(&slurm, "checkpoint_type").choices.len(), 3);
    assert_eq!(field(&slurm, "control_machine").defaults, ["oscar-server"]);
    let torque = read("torque");
    let loglevel = field(&torque, "loglevel");
    assert_eq!(loglevel.defaults, ["64"]);
    assert_eq!(loglevel.choices.len(), 10);
    assert!(field(&torque, "compute_on_head").defaults.is_empty());
}
