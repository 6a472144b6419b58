//! Embeds the statements of `queries/` (named queries, `views/`, `signatures.toml`) in the
//! library, so that an installed binary works from any directory; `--queries DIR` still
//! overrides or extends them at run time (see `src/query_set.rs`).

use std::fmt::Write as _;
use std::hash::Hasher;
use std::path::{Path, PathBuf};

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let queries = manifest_dir.join("../queries");
    // A directory here makes cargo rerun this script when any file below it changes.
    println!("cargo:rerun-if-changed={}", queries.display());

    let mut files: Vec<(String, PathBuf)> = Vec::new();
    for (sub, prefix) in [("", ""), ("views", "views/")] {
        for path in sql_files(&queries.join(sub)) {
            let name = path.file_name().expect("a listed file has a name").to_string_lossy().into_owned();
            files.push((format!("{prefix}{name}"), path));
        }
    }
    files.push(("signatures.toml".to_string(), queries.join("signatures.toml")));
    files.sort();

    // FNV-1a over names and contents: a short fingerprint that `failscope --version` shows,
    // so that two binaries can be told apart by the statements they carry.
    let mut hasher = Fnv1a::default();
    let mut table = String::from("pub(crate) const BUILTIN_FILES: &[(&str, &str)] = &[\n");
    for (name, path) in &files {
        let text = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        hasher.write(name.as_bytes());
        hasher.write(&text);
        let path = path.canonicalize().unwrap_or_else(|e| panic!("cannot resolve {}: {e}", path.display()));
        writeln!(table, "    ({name:?}, include_str!({:?})),", path.display().to_string()).expect("write to a String");
    }
    table.push_str("];\n");
    let n_named = files.iter().filter(|(n, _)| !n.contains('/') && n.ends_with(".sql")).count();
    let n_views = files.iter().filter(|(n, _)| n.starts_with("views/")).count();
    let summary = format!(
        "built-in ({n_named} named queries, {n_views} views, signatures.toml; fingerprint {:016x})",
        hasher.finish()
    );
    let version = std::env::var("CARGO_PKG_VERSION").expect("cargo sets CARGO_PKG_VERSION");
    let long_version = format!("{version}\nqueries: {summary}; override with --queries DIR");
    writeln!(table, "pub(crate) const BUILTIN_SUMMARY: &str = {summary:?};").expect("write to a String");
    writeln!(table, "/// The version and the built-in query set, for `failscope --version`.")
        .expect("write to a String");
    writeln!(table, "pub const LONG_VERSION: &str = {long_version:?};").expect("write to a String");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("builtin_queries.rs");
    std::fs::write(&out, table).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}

fn sql_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|entry| entry.unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display())).path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "sql"))
        .collect();
    paths.sort();
    paths
}

#[derive(Default)]
struct Fnv1a(u64);

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.0 == 0 {
            self.0 = 0xcbf2_9ce4_8422_2325;
        }
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
