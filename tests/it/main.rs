//! Integration tests: one binary (link time on 2 cores), one module per area.

mod sim_juzibot;
mod store;
