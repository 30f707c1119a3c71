// `x % n == 0` over `is_multiple_of` (Rust 1.87): the crate builds with older toolchains too.
#![allow(clippy::manual_is_multiple_of)]
//! occlum-studio native engine: Occlum's secure FS (SGX protected files + SEFS) read, verified and
//! written outside SGX. Pure Rust format code; `napi` is the only FFI layer (Node-API by hand).

pub mod beneath;
pub mod bom_state;
pub mod bom_state_file;
pub mod checkout;
pub mod crypto;
pub mod error;
pub mod fork_watch;
pub mod go_pipe;
pub mod guard;
pub mod landlock;
pub mod napi;
pub mod ops;
pub mod pack;
pub mod pf;
pub mod progress;
pub mod safe_file;
pub mod sefs;
pub mod stat_tree;
pub mod tree_copy;
pub mod union;
pub mod verify;
pub mod writers;

#[cfg(test)]
mod tests;
