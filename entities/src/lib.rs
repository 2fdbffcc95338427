//! The database as Rust types: one sea-orm entity per table, and the migrations that create them.
//!
//! These types are storage rows, not API types: the GraphQL layer never exposes them directly.
//! Migrations are written once with the schema builder and run on SQLite and PostgreSQL alike.
//! Statuses, kinds and JSON documents are typed columns: see [`typed`] for the pattern.

pub mod migration;
pub mod regions;

pub mod audit_log;
pub mod b2b_policy;
pub mod b2b_policy_ack;
pub mod ba_block;
pub mod ba_shift;
pub mod ba_skill;
pub mod ba_target;
pub mod balance_ledger;
pub mod booking;
pub mod booking_cell;
pub mod booking_member_cell;
pub mod booking_policy;
pub mod booking_service;
pub mod campaign;
pub mod campaign_automation;
pub mod campaign_delivery;
pub mod category;
pub mod coupon;
pub mod coupon_template;
pub mod credit_account;
pub mod credit_entry;
pub mod distributor;
pub mod distributor_account;
pub mod distributor_tier;
pub mod flash_sale;
pub mod flash_sale_grab;
pub mod flash_sale_quota;
pub mod location;
pub mod media_asset;
pub mod media_deletion;
pub mod member;
pub mod member_allergy;
pub mod member_balance;
pub mod member_consent;
pub mod member_insight;
pub mod member_tag;
pub mod order;
pub mod order_allocation;
pub mod order_balance_payment;
pub mod order_discount;
pub mod order_line;
pub mod payment_notification;
pub mod points_ledger;
pub mod price_list;
pub mod price_list_item;
pub mod product;
pub mod product_image;
pub mod product_ingredient;
pub mod purchase_order;
pub mod purchase_order_event;
pub mod purchase_order_line;
pub mod refund;
pub mod sales_dirty_day;
pub mod sales_fact;
pub mod sales_member_month;
pub mod sales_rollup_ba_day;
pub mod sales_rollup_sku_day;
pub mod scan_code_batch;
pub mod scan_event;
pub mod scan_redemption;
pub mod skin_photo;
pub mod sku;
pub mod staff_account;
pub mod stock_batch;
pub mod stock_level;
pub mod stock_movement;
pub mod store;
pub mod store_closure;
pub mod store_opening_hours;
pub mod subscription_consent;
pub mod subscription_template;
pub mod tier;
pub mod top_up;
pub mod top_up_plan;
pub mod typed;
pub mod unmatched_payment_notification;
pub mod upload_ticket;

pub use migration::Migrator;
