//! What every capability stands on and none of them owns: storage, time, keys, input checks and
//! the error codes. Nothing here imports a capability module (`shape_tests` fails if it does),
//! so each capability could become its own crate on top of this one.

pub mod clock;
pub mod db;
pub mod error;
pub mod idempotency;
pub mod jobs;
pub mod kv;
pub mod page;
pub mod pii;
pub mod regions;
pub mod signed_codes;
pub mod validate;

#[cfg(test)]
mod shape_tests;
