//! CareFlow's domain library: everything two functions need.
//!
//! Modules are organised by concept. Backends that pull heavy crates sit behind cargo features
//! (`http`, `tokens`, `postgres`, `secrets`, `passwords`, `accounts`) so that each Lambda links
//! only what it uses.

#[cfg(feature = "postgres")]
pub mod analytics;
pub mod appointment;
pub mod auth;
pub mod billing;
pub mod config;
pub mod error;
#[cfg(feature = "event-function")]
pub mod event_function;
pub mod events;
pub mod json;
pub mod telemetry;
pub mod validate;

#[cfg(feature = "postgres")]
pub mod db;
#[cfg(feature = "dynamodb")]
pub mod dynamo;
#[cfg(feature = "http")]
pub mod edge;
#[cfg(feature = "email")]
pub mod email;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "kafka")]
pub mod kafka;
#[cfg(feature = "lab")]
pub mod lab;
#[cfg(feature = "lambda-kafka")]
pub mod lambda_kafka;
#[cfg(feature = "postgres")]
pub mod outbox;
pub mod pagination;
pub mod patient;
pub mod policy;
#[cfg(feature = "secrets")]
pub mod secrets;

pub use error::{Error, Result};
