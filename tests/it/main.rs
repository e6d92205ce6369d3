//! Integration tests: one binary (link time on 2 cores), one module per area.

mod apply_props;
mod bad_inputs;
mod cli;
mod concurrency;
mod crash;
mod crm_e2e;
mod dustess_e2e;
mod first_hour;
mod juzibot_adapter;
mod juzibot_e2e;
mod readme;
mod saved_plans;
mod scenario;
mod schema;
mod sim_crm;
mod sim_dustess;
mod sim_juzibot;
mod sim_wecom;
mod sim_yzj;
mod store;
mod support;
mod wecom_e2e;
mod yzj_e2e;
