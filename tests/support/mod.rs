//! Shared test support: the SecantusDB harness.
#![allow(dead_code)]

pub mod detached;
pub mod server;
