//! CareFlow's domain library: everything two functions need.
//!
//! Modules are organised by concept. Backends that pull heavy crates sit behind cargo features
//! (`http`, `tokens`, `postgres`, `secrets`, `passwords`, `accounts`) so that each Lambda links
//! only what it uses.

pub mod auth;
pub mod config;
pub mod error;
pub mod telemetry;

#[cfg(feature = "postgres")]
pub mod db;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "secrets")]
pub mod secrets;

pub use error::{Error, Result};
