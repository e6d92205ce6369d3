//! tagsync keeps customer-tag taxonomies in step across SCRM platforms.
//!
//! The flow: tag files → [`model::Desired`] → `planner::plan` → `Plan` → `apply` → the mirror.
//! See ARCHITECTURE.md for the map of modules and the invariants between them.

pub mod apply;
pub mod cli;
pub mod daemon;
pub mod model;
pub mod planner;
pub mod platforms;
pub mod settings;
pub mod sim;
pub mod store;
