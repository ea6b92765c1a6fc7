//! Shared test support: the SecantusDB harness and the scripted wire server.
#![allow(dead_code)]

pub mod acceptor;
pub mod certs;
pub mod counting_proxy;
pub mod detached;
pub mod json;
pub mod log_capture;
pub mod pools;
pub mod scram_server;
pub mod server;
pub mod timeline_check;
pub mod wire_server;
