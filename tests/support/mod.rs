//! Shared test support: the SecantusDB harness.
#![allow(dead_code)]

pub mod detached;
pub mod log_capture;
pub mod server;
pub mod timeline_check;
