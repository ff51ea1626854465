//! Rebuild when a migration changes (`embed_migrations!` reads them at compile time), and give
//! `TestDb` a fingerprint of the PostgreSQL migrations, so a test template built from older
//! migrations is never reused.
use std::hash::{Hash, Hasher};
use std::path::Path;

fn hash_dir(dir: &Path, hasher: &mut std::hash::DefaultHasher) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        path.file_name().hash(hasher);
        if path.is_dir() {
            hash_dir(&path, hasher);
        } else if let Ok(bytes) = std::fs::read(&path) {
            bytes.hash(hasher);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
    let mut hasher = std::hash::DefaultHasher::new();
    hash_dir(Path::new("../../migrations/postgres"), &mut hasher);
    println!(
        "cargo:rustc-env=EMPORIUM_POSTGRES_MIGRATIONS_HASH={:016x}",
        hasher.finish()
    );
}
