//! The statements the analysis runs: the files of `queries/` built into the binary (named
//! queries, `views/`, `signatures.toml`), which a directory given at run time (`--queries
//! DIR`) may override file by file or extend, without a rebuild.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{AnalyzeError, Result};

include!(concat!(env!("OUT_DIR"), "/builtin_queries.rs"));

/// The file of the set holding the signature knowledge base.
pub(crate) const SIGNATURES_FILE: &str = "signatures.toml";

/// The folder of the set holding the `CREATE VIEW` files.
const VIEWS_DIR: &str = "views";

/// Every file of the set by its relative path (`top-causes.sql`, `views/10_….sql`,
/// `signatures.toml`), each with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct QuerySet {
    files: BTreeMap<String, QueryFile>,
    source: String,
}

#[derive(Debug, Clone)]
struct QueryFile {
    /// The file on disk, or `<built-in>/<relative path>`; error messages name it.
    origin: PathBuf,
    text: Cow<'static, str>,
}

impl QuerySet {
    /// The built-in set, extended or overridden by the files of `dir` when one is given.
    pub(crate) fn load(dir: Option<&Path>) -> Result<Self> {
        match dir {
            Some(dir) => Self::builtin().with_overrides(dir),
            None => Ok(Self::builtin()),
        }
    }

    /// The files of `queries/` as they were when the binary was built.
    pub(crate) fn builtin() -> Self {
        let files = BUILTIN_FILES
            .iter()
            .map(|(name, text)| {
                let origin = PathBuf::from(format!("<built-in>/{name}"));
                ((*name).to_string(), QueryFile { origin, text: Cow::Borrowed(*text) })
            })
            .collect();
        QuerySet { files, source: BUILTIN_SUMMARY.to_string() }
    }

    /// Replaces the files that `dir` also has (same relative path) and adds the others: its
    /// `*.sql` named queries, `views/*.sql` and `signatures.toml`, each optional.
    pub(crate) fn with_overrides(mut self, dir: &Path) -> Result<Self> {
        let (mut n_replaced, mut n_added) = (0, 0);
        let views = dir.join(VIEWS_DIR);
        let mut paths = sql_files(dir)?;
        if views.is_dir() {
            paths.extend(sql_files(&views)?);
        }
        let signatures = dir.join(SIGNATURES_FILE);
        if signatures.is_file() {
            paths.push(signatures);
        }
        for path in paths {
            let relative = path.strip_prefix(dir).expect("listed under dir").to_string_lossy().replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .map_err(|e| AnalyzeError::QueryFile { path: path.clone(), reason: e.to_string() })?;
            let replaced = self.files.insert(relative, QueryFile { origin: path, text: Cow::Owned(text) });
            if replaced.is_some() { n_replaced += 1 } else { n_added += 1 }
        }
        self.source = format!("{}, with {} ({n_replaced} files replaced, {n_added} added)", self.source, dir.display());
        Ok(self)
    }

    /// Which set this is: built-in, and the directory that overrode it if any.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// The `CREATE VIEW` statements by file stem, in file-name order (views build on earlier
    /// ones).
    pub(crate) fn views(&self) -> impl Iterator<Item = (&str, &str)> {
        self.files.iter().filter_map(|(name, file)| {
            let stem = name.strip_prefix("views/")?.strip_suffix(".sql")?;
            Some((stem, file.text.as_ref()))
        })
    }

    /// The named query files, with where each came from.
    pub(crate) fn named_queries(&self) -> impl Iterator<Item = (&Path, &str)> {
        self.files
            .iter()
            .filter(|(name, _)| !name.contains('/') && name.ends_with(".sql"))
            .map(|(_, file)| (file.origin.as_path(), file.text.as_ref()))
    }

    /// The signature knowledge base, with where it came from.
    pub(crate) fn signatures(&self) -> Result<(&Path, &str)> {
        let file = self.files.get(SIGNATURES_FILE).ok_or_else(|| AnalyzeError::Signatures {
            path: PathBuf::from(SIGNATURES_FILE),
            reason: "missing from the query set".to_string(),
        })?;
        Ok((file.origin.as_path(), file.text.as_ref()))
    }
}

/// The `*.sql` files directly in `dir`.
fn sql_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let unreadable = |e: std::io::Error| AnalyzeError::QueryFile { path: dir.to_path_buf(), reason: e.to_string() };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let path = entry.map_err(unreadable)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "sql") {
            paths.push(path);
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_set_is_the_repository_folder() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../queries");
        let builtin = QuerySet::builtin();
        let from_repo = QuerySet::builtin().with_overrides(&repo).expect("queries/ loads");
        assert!(from_repo.source().contains("0 added"), "{}", from_repo.source());
        let texts = |set: &QuerySet| set.files.iter().map(|(k, v)| (k.clone(), v.text.to_string())).collect::<Vec<_>>();
        assert_eq!(texts(&builtin), texts(&from_repo), "a file of queries/ is not built in; rebuild");
        assert!(builtin.views().any(|(name, _)| name == "40_job_classifications"));
        assert!(builtin.signatures().is_ok());
    }

    #[test]
    fn a_directory_replaces_files_of_the_same_name_and_adds_the_others() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("views")).expect("views dir");
        std::fs::write(dir.path().join("top-causes.sql"), "-- name: top-causes\nSELECT 1").expect("write");
        std::fs::write(dir.path().join("mine.sql"), "-- name: mine\nSELECT 2").expect("write");
        std::fs::write(dir.path().join("views/99_mine.sql"), "CREATE VIEW mine AS SELECT 3").expect("write");
        let set = QuerySet::load(Some(dir.path())).expect("loads");
        assert!(set.source().ends_with("(1 files replaced, 2 added)"), "{}", set.source());
        let named: Vec<&str> = set.named_queries().map(|(_, sql)| sql).collect();
        assert!(named.contains(&"-- name: top-causes\nSELECT 1") && named.contains(&"-- name: mine\nSELECT 2"));
        assert_eq!(set.views().last(), Some(("99_mine", "CREATE VIEW mine AS SELECT 3")));
        assert!(QuerySet::load(Some(&dir.path().join("absent"))).is_err());
    }
}
