//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the files it finds, and
//! on stable Rust only the files it already knew are tracked by Cargo.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations/postgres");
}
