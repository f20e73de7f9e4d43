//! Every package-manager backend against the real tool, in sandbox roots:
//! one conformance suite ([`suite`]) instantiated per backend, in the
//! style of rattler's solver backends.

#![allow(
    clippy::disallowed_methods,
    reason = "the test runs real tools (dpkg, rpm, chattr, ...) as child processes to check against"
)]
// The helpers outside `#[test]` functions unwrap too: a failure there is the
// test's failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fixtures;
mod signed;
mod suite;

use opm_native::Backend;

/// One module of tests per backend, each calling the same suite functions.
macro_rules! conformance {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::{Backend, suite};

            #[test]
            fn installs_a_dependent_then_queries_and_removes() {
                suite::installs_a_dependent_then_queries_and_removes($backend);
            }

            #[test]
            fn removes_a_batch_with_one_package_another_needs() {
                suite::removes_a_batch_with_one_package_another_needs($backend);
            }

            #[test]
            fn prepares_an_empty_root() {
                suite::prepares_an_empty_root($backend);
            }

            #[test]
            fn reads_every_repository() {
                suite::reads_every_repository($backend);
            }

            #[test]
            fn installs_into_an_image_root_with_a_shell() {
                suite::installs_into_an_image_root_with_a_shell($backend);
            }

            #[test]
            fn refuses_a_package_missing_from_the_repo() {
                suite::refuses_a_package_missing_from_the_repo($backend);
            }

            #[test]
            fn refuses_a_damaged_package_file() {
                suite::refuses_a_damaged_package_file($backend);
            }

            #[test]
            fn refuses_an_unsatisfiable_dependency() {
                suite::refuses_an_unsatisfiable_dependency($backend);
            }

            #[test]
            fn refuses_a_missing_root() {
                suite::refuses_a_missing_root($backend);
            }

            #[test]
            fn refuses_an_unwritable_root() {
                suite::refuses_an_unwritable_root($backend);
            }

            #[test]
            fn waits_for_the_root_lock() {
                suite::waits_for_the_root_lock($backend);
            }

            #[test]
            fn stops_a_run_at_its_time_limit() {
                suite::stops_a_run_at_its_time_limit($backend);
            }

            #[test]
            fn survives_a_run_killed_halfway() {
                suite::survives_a_run_killed_halfway($backend);
            }

            #[test]
            fn inventories_installed_partial_and_missing_in_one_read() {
                suite::inventories_installed_partial_and_missing_in_one_read($backend);
            }

            #[test]
            fn inventory_refuses_a_root_without_or_with_a_broken_database() {
                suite::inventory_refuses_a_root_without_or_with_a_broken_database($backend);
            }

            #[test]
            fn moves_a_package_to_the_version_asked_for_in_place() {
                suite::moves_a_package_to_the_version_asked_for_in_place($backend);
            }
        }
    };
}

conformance!(apt, Backend::Apt);
conformance!(dpkg, Backend::Dpkg);
conformance!(dnf, Backend::Dnf);
conformance!(rpm, Backend::Rpm);

/// Signed repositories: only the resolving backends read indexes.
macro_rules! signed {
    ($module:ident, $backend:expr) => {
        mod $module {
            use super::{Backend, signed};

            #[test]
            fn installs_from_a_signed_repository() {
                signed::installs_from_a_signed_repository($backend);
            }

            #[test]
            fn refuses_an_index_changed_after_signing() {
                signed::refuses_an_index_changed_after_signing($backend);
            }

            #[test]
            fn refuses_another_key_and_no_signature() {
                signed::refuses_another_key_and_no_signature($backend);
            }
        }
    };
}

signed!(apt_signed, Backend::Apt);
signed!(dnf_signed, Backend::Dnf);
