//! Load scenarios for `scripts/bench`, one module each, sharing the environment (fresh database,
//! the release server as a child process) and the load generator.

pub mod b2b;
pub mod b2b_rebates;
pub mod booking;
pub mod campaign;
pub mod catalog;
pub mod env;
pub mod flash_sale;
pub mod footprint;
pub mod load;
pub mod media;
pub mod money;
pub mod plain;
pub mod reports;
pub mod scan;
pub mod seed;
pub mod soak;
pub mod truth;
pub mod wire;
