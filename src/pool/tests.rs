//! Unit tests of the pool's state machine with connections that need no server.
