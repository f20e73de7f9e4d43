//! One script run described as data: what to run, where, with what, and the
//! exact command line that carries it out (built without running anything).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::env::{ScriptContext, script_environment};
use super::error::ScriptError;
use super::site_env::SiteEnv;

/// Timeout of a script when none is configured (SPEC §1.7: 30 minutes).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Inside an image, the shell program that enters the package dir and then
/// becomes the script: `$1` is the package dir, the rest is the script's argv.
/// Exit 125 (as chroot's own failures) means the package dir could not be entered.
pub const CHROOT_ENTRY: &str = r#"cd -- "$1" || exit 125; shift; exec "$@""#;

/// `$0` of the in-image entry shell.
pub const CHROOT_ENTRY_NAME: &str = "opm-chroot-entry";

/// Where in an image the entry shell must be.
pub const CHROOT_SHELL: &str = "/bin/sh";

/// Everything needed to run one script; built by [`InvocationBuilder`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptInvocation {
    /// The script, absolute; a path inside the image when `chroot` is set.
    pub script: PathBuf,
    /// The package dir (working directory, `OSCAR_PACKAGE_HOME`); inside the image when chrooted.
    pub package_dir: PathBuf,
    /// Positional arguments (`api-post-image` gets the image root as `$1`).
    pub args: Vec<OsString>,
    /// The complete environment; nothing else is inherited.
    pub env: BTreeMap<String, String>,
    /// Image root to chroot into, for `client-post-install` of an image.
    pub chroot: Option<PathBuf>,
    /// How long the script may run before its process group is killed.
    pub timeout: Duration,
}

/// A process to start, as plain data, so it can be checked without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The program to execute.
    pub program: PathBuf,
    /// Its arguments (without the program itself).
    pub args: Vec<OsString>,
    /// Its complete environment.
    pub env: BTreeMap<String, String>,
    /// Its working directory on the host.
    pub current_dir: PathBuf,
}

impl ScriptInvocation {
    /// Starts describing a run of `script_name` from `package_dir` (an absolute
    /// path; inside the image if [`InvocationBuilder::chroot`] is used).
    pub fn builder(
        package_dir: impl Into<PathBuf>,
        script_name: impl Into<String>,
        context: ScriptContext,
    ) -> InvocationBuilder {
        InvocationBuilder {
            package_dir: package_dir.into(),
            script_name: script_name.into(),
            context,
            site: SiteEnv::default(),
            config: BTreeMap::new(),
            args: Vec::new(),
            chroot: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Where `path` (a path inside the image in chroot mode) is on the host.
    pub fn host_path(&self, path: &Path) -> PathBuf {
        match &self.chroot {
            Some(root) => root.join(path.strip_prefix("/").unwrap_or(path)),
            None => path.to_path_buf(),
        }
    }

    /// The command that runs the script: the script itself on the host, or
    /// `chroot ROOT /bin/sh -c CHROOT_ENTRY … DIR SCRIPT ARGS…` for an image.
    pub fn command(&self, chroot_program: &Path) -> CommandSpec {
        match &self.chroot {
            None => CommandSpec {
                program: self.script.clone(),
                args: self.args.clone(),
                env: self.env.clone(),
                current_dir: self.package_dir.clone(),
            },
            Some(root) => {
                let mut args: Vec<OsString> = vec![
                    root.clone().into(),
                    CHROOT_SHELL.into(),
                    "-c".into(),
                    CHROOT_ENTRY.into(),
                    CHROOT_ENTRY_NAME.into(),
                    self.package_dir.clone().into(),
                    self.script.clone().into(),
                ];
                args.extend(self.args.iter().cloned());
                CommandSpec {
                    program: chroot_program.to_path_buf(),
                    args,
                    env: self.env.clone(),
                    current_dir: PathBuf::from("/"),
                }
            }
        }
    }
}

/// Builds a [`ScriptInvocation`], checking names and paths on the way.
#[derive(Debug, Clone)]
pub struct InvocationBuilder {
    package_dir: PathBuf,
    script_name: String,
    context: ScriptContext,
    site: SiteEnv,
    config: BTreeMap<String, String>,
    args: Vec<OsString>,
    chroot: Option<PathBuf>,
    timeout: Duration,
}

impl InvocationBuilder {
    /// The opkg's configuration values (SPEC §1.8), passed in the environment.
    pub fn config(mut self, values: BTreeMap<String, String>) -> InvocationBuilder {
        self.config = values;
        self
    }

    /// The site's variables for every script ([`SiteEnv`]).
    pub fn site_env(mut self, site: SiteEnv) -> InvocationBuilder {
        self.site = site;
        self
    }

    /// Appends a positional argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> InvocationBuilder {
        self.args.push(arg.into());
        self
    }

    /// Runs chrooted in this image root (the package dir is then inside it).
    pub fn chroot(mut self, root: impl Into<PathBuf>) -> InvocationBuilder {
        self.chroot = Some(root.into());
        self
    }

    /// Overrides the default 30-minute timeout.
    pub fn timeout(mut self, timeout: Duration) -> InvocationBuilder {
        self.timeout = timeout;
        self
    }

    /// The invocation, or the first thing wrong with the description.
    pub fn build(self) -> Result<ScriptInvocation, ScriptError> {
        let name = self.script_name.as_str();
        if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
            return Err(ScriptError::InvalidScriptName {
                name: self.script_name,
            });
        }
        if !self.package_dir.is_absolute() {
            return Err(ScriptError::RelativePath {
                what: "package dir",
                path: self.package_dir,
            });
        }
        if let Some(root) = &self.chroot
            && !root.is_absolute()
        {
            return Err(ScriptError::RelativePath {
                what: "image root",
                path: root.clone(),
            });
        }
        let env = script_environment(&self.package_dir, &self.context, &self.site, &self.config)?;
        Ok(ScriptInvocation {
            script: self.package_dir.join(name),
            package_dir: self.package_dir,
            args: self.args,
            env,
            chroot: self.chroot,
            timeout: self.timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opm_model::{Name, NameKind, Role, Stage, Target};

    const PKG: &str = "/usr/lib/oscar/packages/slurm";

    fn context() -> ScriptContext {
        ScriptContext {
            stage: Stage::RunScriptPostImage,
            target: Target::image(Name::new(NameKind::Image, "oscarimage").unwrap()),
            role: Role::Server,
            attempt: 1,
            upgrade: None,
        }
    }

    fn strings(args: &[OsString]) -> Vec<&str> {
        args.iter().map(|a| a.to_str().unwrap()).collect()
    }

    #[test]
    fn host_command_runs_the_script_in_its_package_dir() {
        let invocation = ScriptInvocation::builder(PKG, "api-post-image", context())
            .arg("/var/lib/systemimager/images/oscarimage")
            .build()
            .unwrap();
        let spec = invocation.command(Path::new("/usr/sbin/chroot"));
        assert_eq!(spec.program, Path::new(PKG).join("api-post-image"));
        assert_eq!(
            strings(&spec.args),
            ["/var/lib/systemimager/images/oscarimage"]
        );
        assert_eq!(spec.current_dir, Path::new(PKG));
        assert_eq!(spec.env["OSCAR_PACKAGE_HOME"], PKG);
        assert_eq!(spec.env["OPM_TARGET"], "oscarimage");
        assert_eq!(invocation.timeout, DEFAULT_TIMEOUT);
        assert_eq!(invocation.host_path(&invocation.script), invocation.script);
    }

    #[test]
    fn chroot_command_enters_the_image_then_the_package_dir() {
        let invocation = ScriptInvocation::builder(PKG, "client-post-install", context())
            .chroot("/images/oscarimage")
            .arg("x y")
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap();
        let spec = invocation.command(Path::new("/usr/sbin/chroot"));
        assert_eq!(spec.program, Path::new("/usr/sbin/chroot"));
        assert_eq!(
            strings(&spec.args),
            [
                "/images/oscarimage",
                "/bin/sh",
                "-c",
                r#"cd -- "$1" || exit 125; shift; exec "$@""#,
                "opm-chroot-entry",
                PKG,
                "/usr/lib/oscar/packages/slurm/client-post-install",
                "x y",
            ]
        );
        assert_eq!(spec.current_dir, Path::new("/"));
        // The environment names paths as the script sees them, inside the image.
        assert_eq!(spec.env["OSCAR_PACKAGE_HOME"], PKG);
        assert_eq!(
            invocation.host_path(&invocation.script),
            Path::new("/images/oscarimage/usr/lib/oscar/packages/slurm/client-post-install")
        );
        assert_eq!(invocation.timeout, Duration::from_secs(5));
    }

    #[test]
    fn script_names_must_be_plain_file_names() {
        for bad in ["", ".", "..", "../x", "a/b", "a\0b"] {
            let error = ScriptInvocation::builder(PKG, bad, context())
                .build()
                .unwrap_err();
            assert!(
                matches!(error, ScriptError::InvalidScriptName { .. }),
                "{bad:?}: {error}"
            );
        }
    }

    #[test]
    fn relative_paths_are_refused() {
        let error = ScriptInvocation::builder("pkgs/slurm", "api-post-install", context())
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "package dir pkgs/slurm is not an absolute path"
        );
        let error = ScriptInvocation::builder(PKG, "client-post-install", context())
            .chroot("images/x")
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "image root images/x is not an absolute path"
        );
    }

    #[test]
    fn bad_config_names_fail_the_build() {
        let config = BTreeMap::from([("a=b".to_owned(), "1".to_owned())]);
        let error = ScriptInvocation::builder(PKG, "api-post-install", context())
            .config(config)
            .build()
            .unwrap_err();
        assert!(matches!(error, ScriptError::ConfigName { .. }), "{error}");
    }
}
