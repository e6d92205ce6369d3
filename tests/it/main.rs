//! Integration tests: one binary (link time on 2 cores), one module per area.

mod bad_inputs;
mod cli;
mod juzibot_e2e;
mod schema;
mod sim_juzibot;
mod sim_wecom;
mod store;
mod wecom_e2e;
