//! Shared test support: the SecantusDB harness and the scripted wire server.
#![allow(dead_code)]

pub mod detached;
pub mod json;
pub mod log_capture;
pub mod server;
pub mod timeline_check;
pub mod wire_server;
