//! `opm completions SHELL` and `opm man --out DIR` through the real binary:
//! each script passes its real shell's syntax check, the bash one completes
//! in a real bash, every subcommand `--help` lists has a man page, and groff
//! renders every page without a warning.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs the built opm binary and the tools around it as real child processes"
)]
// Test code: temp files and fixed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command as Tool;

use assert_cmd::Command;
use opm_testkit::tools::{have_tool, output_text, stdout_of};
use tempfile::TempDir;

/// Runs opm with `args`; its exit code and stdout, stderr.
fn opm(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("opm")
        .unwrap()
        .args(args)
        // A broken settings file must not matter to these commands.
        .env("OPM_SETTINGS", "/nonexistent/opm.toml")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// The completion script for `shell`, written into `dir`.
fn script(shell: &str, dir: &Path) -> std::path::PathBuf {
    let (code, stdout, stderr) = opm(&["completions", shell]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("opm"), "{stdout}");
    let path = dir.join(format!("opm.{shell}"));
    std::fs::write(&path, stdout).unwrap();
    path
}

/// Runs `shell` with `args` and asserts it succeeds without a word on stderr.
fn accepted(shell: &str, args: &[&str], path: &Path) {
    let out = Tool::new(shell).args(args).arg(path).output().unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{shell} {args:?} refused {}: {}",
        path.display(),
        output_text(&out)
    );
}

#[test]
fn the_bash_script_passes_bash_n() {
    let dir = TempDir::new().unwrap();
    accepted("bash", &["-n"], &script("bash", dir.path()));
}

#[test]
fn the_zsh_script_passes_zsh_n() {
    if !have_tool("zsh") {
        return;
    }
    let dir = TempDir::new().unwrap();
    accepted("zsh", &["-n"], &script("zsh", dir.path()));
}

#[test]
fn the_fish_script_passes_fish_no_execute() {
    if !have_tool("fish") {
        return;
    }
    let dir = TempDir::new().unwrap();
    accepted("fish", &["--no-execute"], &script("fish", dir.path()));
}

/// What the bash completion offers for `words` (the last one being
/// completed), found the way bash finds it: through `complete -p opm`.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let dir = TempDir::new().unwrap();
    let path = script("bash", dir.path());
    let line = words.join(" ");
    let program = format!(
        r#"source "$1" || exit 9
spec=$(complete -p opm) || exit 8
function=${{spec#*-F }}; function=${{function%% *}}
COMP_WORDS=({line}); COMP_CWORD={cword}; COMP_LINE="{line}"; COMP_POINT=${{#COMP_LINE}}
"$function" opm "${{COMP_WORDS[COMP_CWORD]}}" "${{COMP_WORDS[COMP_CWORD-1]}}"
printf '%s\n' "${{COMPREPLY[@]}}""#,
        cword = words.len() - 1,
    );
    let mut bash = Tool::new("bash");
    bash.args(["-c", &program, "bash"]).arg(&path);
    stdout_of(&mut bash)
        .lines()
        .map(|word| word.trim().to_owned())
        .filter(|word| !word.is_empty())
        .collect()
}

#[test]
fn bash_completes_opm_op_to_opkg() {
    assert_eq!(bash_completes(&["opm", "op"]), ["opkg"]);
}

#[test]
fn bash_completes_a_nested_subcommand() {
    assert_eq!(bash_completes(&["opm", "node", "ad"]), ["add"]);
}

#[test]
fn an_unknown_shell_is_bad_usage() {
    let (code, stdout, stderr) = opm(&["completions", "tcsh"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("invalid value 'tcsh'"), "{stderr}");
    assert!(stderr.contains("bash, zsh, fish"), "{stderr}");
}

/// The subcommands `opm PATH --help` lists under "Commands:" (`opm
/// --help` itself under headings of its own, up to "Options:"), without
/// clap's own `help`.
fn subcommands(path: &[String]) -> Vec<String> {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let (code, help, stderr) = opm(&args);
    assert_eq!(code, Some(0), "{stderr}");
    let grouped = path.is_empty();
    help.lines()
        .skip_while(|line| {
            if grouped {
                !line.starts_with("Usage:")
            } else {
                *line != "Commands:"
            }
        })
        .skip(1)
        .take_while(|line| {
            if grouped {
                *line != "Options:"
            } else {
                !line.is_empty()
            }
        })
        // A name starts at column 2; deeper lines continue a description.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// `opm.1`'s name and, recursively, `opm-<sub>[-<subsub>].1` of every
/// subcommand `--help` lists.
fn expected_pages(path: &mut Vec<String>, pages: &mut Vec<String>) {
    let mut name = vec!["opm".to_owned()];
    name.extend(path.iter().cloned());
    pages.push(format!("{}.1", name.join("-")));
    for sub in subcommands(path) {
        path.push(sub);
        expected_pages(path, pages);
        path.pop();
    }
}

#[test]
fn every_subcommand_has_a_man_page_and_no_page_is_extra() {
    let dir = TempDir::new().unwrap();
    let out = dir.path().join("man/man1");
    let (code, stdout, stderr) = opm(&["man", "--out", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");

    let mut expected = Vec::new();
    expected_pages(&mut Vec::new(), &mut expected);
    expected.sort();
    assert!(
        expected.contains(&"opm-node-add.1".to_owned()),
        "{expected:?}"
    );
    assert!(
        expected.contains(&"opm-completions.1".to_owned()),
        "{expected:?}"
    );
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    written.sort();
    assert_eq!(written, expected);
}

#[test]
fn groff_renders_every_man_page_without_a_warning() {
    if !have_tool("groff") {
        return;
    }
    let dir = TempDir::new().unwrap();
    let (code, _, stderr) = opm(&["man", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    let mut pages = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let page = entry.unwrap().path();
        let mut groff = Tool::new("groff");
        groff.args(["-man", "-Tutf8", "-ww"]).arg(&page);
        let out = groff.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "groff warns about {}: {}",
            page.display(),
            output_text(&out)
        );
        assert!(text.contains("NAME"), "{}: {text}", page.display());
        pages += 1;
    }
    assert!(pages > 40, "only {pages} pages written");
}

#[test]
fn man_into_a_path_that_is_a_file_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, "").unwrap();
    let (code, _, stderr) = opm(&["man", "--out", file.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(file.to_str().unwrap()), "{stderr}");
}
