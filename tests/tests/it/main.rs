//! End-to-end tests: one test binary (one link) with a module per capability.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_matrix;
mod booking;
mod campaigns;
mod catalog;
mod contract;
mod coupons;
mod flash_sales;
mod http_surface;
mod input_limits;
mod kv_contract;
mod members;
mod orders;
mod regions;
mod scan_codes;
mod sessions;
mod subscriptions;
