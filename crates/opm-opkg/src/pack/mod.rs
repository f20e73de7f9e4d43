//! Native package writers: a format-neutral [`PackageSpec`] written as a
//! `.deb` ([`write_deb`]) or an `.rpm` ([`write_rpm`]) in plain Rust, with
//! no dpkg-deb, rpmbuild or opkgc at run time.
//!
//! Relations are the crate's own [`Relation`](crate::Relation), so a spec
//! can be built by hand (test packages) as well as from an opkg source.
//! [`opkg_specs`] maps an opkg source ([`SourceFiles`]) to its three specs.
//! [`write_apt_index`] turns a directory of built packages into a
//! repository apt can use; dnf's repodata is written by `createrepo_c`, a
//! process, so `opm_native::createrepo` runs it.

mod deb;
mod error;
mod index;
mod opkg;
mod review;
mod rpm;
mod spec;

pub use self::rpm::{rpm_bytes, rpm_file_name, rpm_relation, rpm_release, write_rpm};
pub use deb::{
    changelog_text, control_text, deb_bytes, deb_file_name, deb_relation, deb_version, write_deb,
};
pub use error::PackError;
pub use index::{
    AptIndex, apt_stanza, package_files, parse_control, read_control, release_text, rfc2822,
    write_apt_index,
};
pub use opkg::{
    PACKAGES_DIR, SourceFiles, TESTING_DIR, TESTING_PARTS, Target, TreeEntry, opkg_specs,
};
pub use review::{
    Finding, admitted_targets, deb_name_warnings, is_deb_name, review, review_dir, source_warnings,
};
pub use spec::{Change, Content, DESCRIPTION_WIDTH, Entry, PackageSpec, deb_arch, rpm_arch};
