//! Native package writers: a format-neutral [`PackageSpec`] written as a
//! `.deb` ([`write_deb`]) or an `.rpm` ([`write_rpm`]) in plain Rust, with
//! no dpkg-deb, rpmbuild or opkgc at run time.
//!
//! Relations are the crate's own [`Relation`](crate::Relation), so a spec
//! can be built by hand (test packages) as well as from an opkg source.

mod deb;
mod error;
mod rpm;
mod spec;

pub use self::rpm::{rpm_bytes, rpm_file_name, rpm_relation, rpm_release, write_rpm};
pub use deb::{control_text, deb_bytes, deb_file_name, deb_relation, deb_version, write_deb};
pub use error::PackError;
pub use spec::{Content, Entry, PackageSpec, deb_arch, rpm_arch};
