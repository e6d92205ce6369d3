//! tagsync keeps customer-tag taxonomies in step across SCRM platforms.
//!
//! The flow: tag files → [`model::Desired`] → `planner::plan` → `Plan` → the [`engine`] carries it
//! out → the mirror. `cli` (and the daemon) call the engine and render its typed reports.
//! See ARCHITECTURE.md for the map of modules and the invariants between them.

pub mod cli;
pub mod clock;
pub mod daemon;
pub mod engine;
pub mod model;
pub mod planner;
pub mod platforms;
pub mod settings;
pub mod sim;
pub mod store;
