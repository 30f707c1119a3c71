mod pf_vectors;

use std::path::PathBuf;

pub fn shared() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared")
}
pub fn vectors() -> PathBuf {
    shared().join("fixtures/pf-vectors")
}
pub fn wamr() -> PathBuf {
    shared().join("fixtures/occlum-wamr-0.28")
}
