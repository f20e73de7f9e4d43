//! The vocabulary of opm, free of I/O: lifecycle [`Stage`]s, cluster
//! [`Phase`]s and their gates, machine [`Role`]s, [`Target`]s, [`Row`]s,
//! validated [`Name`]s, the strict [`OpmConf`] reader, the node
//! [`Enrolment`] file and its one-use rule, and the stage
//! ladder ([`legal_step`]) that planner and store share.
//!
//! Every other crate speaks in these types; the stage and phase names are
//! spelled here and nowhere else (SPEC §9 trap 3). Neighbours: `opm-plan`
//! decides over these types, `opm-store` persists them, `opm-api` sends them
//! over the wire.

pub mod api;
mod civil;
mod conf;
mod drain;
mod enrolment;
mod inventory;
mod ladder;
mod name;
mod phase;
mod role;
mod rollout;
mod row;
mod script;
mod stage;
mod step;
pub mod suggest;
mod target;
pub mod version;

pub use civil::Civil;
pub use conf::{ConfError, MAX_CONF_BYTES, OpmConf};
pub use drain::DrainState;
pub use enrolment::{
    DEFAULT_LIFETIME_MS, ENROLMENT_TOKEN_PREFIX, Enrolment, EnrolmentError, EnrolmentRecord,
    EnrolmentRefusal, MAX_ENROLMENT_BYTES, Redemption, check_enrolment_token, check_server_url,
    format_utc, is_enrolment_token, judge, parse_lifetime, parse_utc,
};
pub use inventory::{Inventory, Presence};
pub use ladder::{Step, Unfinished, legal_step, next_step};
pub use name::{MAX_NAME_LEN, Name, NameError, NameKind};
pub use phase::{Phase, UnknownPhase};
pub use role::{Role, UnknownRole};
pub use rollout::{BadLimit, Limit, RolloutPolicy, RolloutState, UnknownRolloutState};
pub use row::{Lease, Row, RowVersion, Status, StatusKind};
pub use script::{Part, Script, UnknownScript};
pub use stage::{Stage, UnknownStage};
pub use step::{PastAttempt, StepRecord, StepResult};
pub use target::{Target, TargetKind, UnknownTargetKind};
