//! The report's formats, and writing a report file so that a reader never sees half of it.

use std::io::Write;
use std::path::Path;

use super::model::Report;
use super::{html, markdown};

/// A report's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// Markdown, for chat and issues.
    Md,
    /// One self-contained HTML file with the charts, readable offline.
    Html,
    /// JSON with the same content, for machines.
    Json,
}

impl ReportFormat {
    /// The file extension of the format.
    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Md => "md",
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
        }
    }
}

/// The report in `format`.
pub fn render(report: &Report, format: ReportFormat) -> String {
    match format {
        ReportFormat::Md => markdown(report),
        ReportFormat::Html => html(report),
        ReportFormat::Json => {
            let mut json =
                serde_json::to_string_pretty(report).expect("a report serializes: no maps with non-string keys");
            json.push('\n');
            json
        }
    }
}

/// Writes `bytes` to `path` atomically: into a temporary file of the same directory, synced,
/// then renamed over `path`, so a reader sees the old file or the new one, never a part.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp = tempfile::Builder::new().prefix(".failscope-report-").tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    if let Ok(dir) = std::fs::File::open(dir) {
        // The rename itself is durable once the directory is synced; not every filesystem
        // allows syncing a directory, and the file is complete either way.
        let _ = dir.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_atomic_write_replaces_the_whole_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("report.md");
        write_atomically(&path, b"first version, longer than the second").expect("write");
        write_atomically(&path, b"second").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"second");
        let names: Vec<_> =
            std::fs::read_dir(dir.path()).expect("list").map(|e| e.expect("entry").file_name()).collect();
        assert_eq!(names, ["report.md"]);
        assert!(write_atomically(&dir.path().join("missing/report.md"), b"x").is_err());
    }
}
