//! Handler and runner tests for every function, against a real PostgreSQL
//! (`CAREFLOW_TEST_DATABASE_URL`, set by `scripts/test.sh`). One test binary for all functions
//! keeps the build lean; each test gets its own database cloned from a migrated template.

mod accounts;
mod analytics;
mod appointments;
mod billing;
mod care;
mod contract;
mod iam;
mod lab;
mod mfa;
mod patients;
mod queries;
mod runner;
mod scheduling;
mod startup;
mod support;
mod tokens;
mod waitlist;
