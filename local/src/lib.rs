//! The local runner: CareFlow on one machine with the same code that runs in AWS.
//!
//! It reads `template.yaml`, serves every `HttpApi` route on localhost, and for each request
//! does what API Gateway does: verifies the bearer token as the JWT authorizer would, builds the
//! payload-v2 event (path parameters, request context, authorizer claims) and hands it to the
//! function's handler through lambda_http's own event adapter. Later relays (S3 notifications,
//! Kafka records) plug in beside [`gateway`] as further event sources over the same registry.

pub mod authorizer;
pub mod aws;
pub mod functions;
pub mod gateway;
pub mod kafka_source;
pub mod resources;
pub mod s3_relay;
pub mod scheduler;
pub mod stack;
pub mod template;
