//! OSCAR package (opkg) sources: reading and checking `config.xml` against
//! `opkg.xsd` (SPEC §2), working out versions and per-part dependencies,
//! listing the scripts a source ships and the defaults of its
//! `configurator.html`; and building the native packages ([`pack`]).
//!
//! Entry points: [`Opkg::from_path`] (a source directory or its config.xml)
//! with [`Opkg::from_bytes`] / [`Opkg::from_str`] as the pure core;
//! [`Opkg::effective_deps`] for the relations of one native part on one
//! (dist, arch); [`Graph::of`] for the opkg-to-opkg relations SPEC §1.4 needs;
//! [`Inventory::of_dir`] and [`Configurator::parse`]. Files are the only I/O.
//! Neighbours: `opm-model` supplies names, parts and scripts; the `opm`
//! binary's `opm opkg check/show` and `opm pack` use this crate.
//!
//! Deviations from opkgc: the opkg-level `<provides>`, `<conflicts>` and
//! `<requires>` are honoured (added to the server and client parts);
//! opkgc silently dropped them. The version is the changelog's highest
//! entry by upstream and release, the epoch only breaking ties ([`highest`]
//! says why), with a warning when an older entry carries a higher epoch.

mod configurator;
mod datetime;
mod decode;
mod deps;
mod error;
mod graph;
mod inventory;
mod load;
mod model;
mod schema;
mod uri;
mod version;
mod xml;

pub mod pack;

pub use configurator::{Configurator, Field, FieldKind};
pub use deps::{DEB_DISTS, Deps, Dist, arch_family};
pub use error::{ConfiguratorError, Diagnostic, InventoryError, OpkgError, Severity};
pub use graph::{Edge, EdgeKind, Graph};
pub use inventory::{HelperFile, Inventory, ScriptFile};
pub use load::{Loaded, MAX_CONFIG_BYTES, config_path};
pub use model::{
    Author, AuthorCategory, ChangelogEntry, Class, DistFilter, Filters, Opkg, Rel, Relation,
    RelationBlock, RelationKind, VersionEntry,
};
pub use schema::{ARCHES, LICENSES, Level, MAX_SUMMARY};
pub use version::{Version, VersionError, compare_part, highest};
