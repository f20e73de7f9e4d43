//! The pure lifecycle planner of opm: given a row and the facts around it,
//! decide what to do next. Filled by the foundation issue.
