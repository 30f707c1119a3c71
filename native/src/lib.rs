//! occlum-studio native engine: Occlum's secure FS (SGX protected files + SEFS) read, verified and
//! written outside SGX. Pure Rust format code; `napi` is the only FFI layer (Node-API by hand).

pub mod crypto;
pub mod error;
pub mod pf;

#[cfg(test)]
mod tests;
