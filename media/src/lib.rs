//! Media for Rouge: what comes in is never trusted, what goes out was re-encoded here.
//!
//! - [`intake`]: the type is sniffed from the bytes, dimensions are read from the header and
//!   checked against a pixel budget before any pixel buffer exists, decoding runs under
//!   `image::Limits`, EXIF orientation is applied and the image re-encoded (so EXIF, XMP and
//!   GPS never survive), and the fixed-width derivatives are built at once on a bounded pool.
//! - [`storage`]: the three storage classes (PUBLIC, PRIVATE, SENSITIVE) over `object_store`.
//! - [`signing`]: HMAC-signed, expiring URLs for objects Rouge serves itself.
//! - [`poster`]: share posters drawn from a versioned template with the bundled CJK font.
//! - [`crypto`]: per-object envelope encryption for the SENSITIVE class.
//!
//! This crate knows nothing of members, products or permissions: domain calls it through a
//! small port and keeps the records.

pub mod crypto;
pub mod demo;
pub mod header;
pub mod intake;
mod pool;
pub mod poster;
pub mod signing;
pub mod storage;

/// The storage crate, for callers that build their own store (in memory for tests, S3).
pub use bytes;
pub use object_store;

pub use crypto::{CryptoError, DataKey, MasterKey};
pub use intake::{IntakeError, IntakeLimits, Processed, Processor, SourceFormat, Variant, WIDTHS};
pub use signing::{SignatureError, UrlSigner};
pub use storage::{MediaStore, S3Options, StorageClass, StorageError, StoredVariant, UploadTarget};
