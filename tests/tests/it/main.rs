//! End-to-end tests: one test binary (one link) with a module per capability.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth_matrix;
mod availability;
mod booking;
mod booking_stored_values;
mod campaigns;
mod campaigns_stored_values;
mod catalog;
mod contract;
mod coupons;
mod deploy_manifests;
mod dev_pay;
mod flash_sales;
mod graphql_edge;
mod http_surface;
mod input_limits;
mod kv_contract;
mod members;
mod members_stored_values;
mod orders;
mod orders_stored_values;
mod payments;
mod regions;
mod scan_codes;
mod sessions;
mod subscriptions;
