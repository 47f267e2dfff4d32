//! What the bench harnesses need: guests built like the tests build them
//! (the same file as the tests' support), signed interactions (likewise),
//! and a demo application key.

// Each bench harness uses a part of this module.
#![allow(dead_code)]

#[path = "../../tests/it/support/guests.rs"]
mod guests;
#[path = "../../tests/it/support/interaction.rs"]
pub mod interaction;

// Each harness takes the builds it needs.
#[allow(unused_imports)]
pub use guests::{build_guests, build_guests_with, SPEED_PROFILE};

/// RFC 8032's first test key: valid, and nobody's real application.
pub const KEY: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

/// A database in a scratch directory (tmpfs when there is one: these
/// benches measure the sandbox, not the disk). Keep the directory alive.
pub fn scratch_db() -> (tempfile::TempDir, appliance::store::Db) {
    let temp = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let db = appliance::store::Db::open(&temp.path().join("bench.db")).unwrap();
    (temp, db)
}
