//! The lake as the ingest sees it: publish a file atomically, list a partition's files, read a
//! file's footer, delete an orphan, list and look up the owner markers of [`crate::fence`]. A local directory gets write-to-staging, fsync, a
//! create-only link into place, fsync of the directory; an object store gets a create-only
//! put. Either way a reader never sees a partial file, and a published file is never replaced.
//!
//! The API is blocking: the ingest loop runs on its own thread, and object-store calls are
//! driven by the runtime handle given at open.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use failscope_lake_store::{LakeLocation, StoreLake};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutMode, PutOptions};
use parquet::file::reader::{FileReader, SerializedFileReader};
use tokio::runtime::Handle;

use crate::IngestError;
use crate::encode::FileMeta;
use crate::layout::parse_file_name;

/// Temporary files live here, outside every table, one folder per running process.
const STAGING_DIR: &str = "_staging";

/// A data file of one partition: its lake-relative path and first offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DataFile {
    pub(crate) path: String,
    pub(crate) first_offset: i64,
}

/// Where the ingest publishes.
#[derive(Debug)]
pub(crate) enum Lake {
    Local(LocalLake),
    Remote(RemoteLake),
}

impl Lake {
    /// Opens a local directory (a plain path or `file://`) or an object store (`s3://`,
    /// `gs://`; configured from the environment by `failscope_lake_store`).
    pub(crate) fn open(location: &str, runtime: Handle) -> Result<Lake, IngestError> {
        match LakeLocation::parse(location)? {
            LakeLocation::Local(dir) => LocalLake::open(&dir).map(Lake::Local),
            LakeLocation::Store(lake) => Ok(Lake::Remote(RemoteLake { lake, runtime })),
        }
    }

    /// Makes `bytes` visible at `path` (lake-relative) all at once.
    pub(crate) fn publish(&self, path: &str, bytes: Bytes) -> Result<(), IngestError> {
        match self {
            Lake::Local(lake) => lake.publish(path, &bytes),
            Lake::Remote(lake) => lake.publish(path, bytes),
        }
    }

    /// The data files of one topic partition in `table`.
    pub(crate) fn partition_files(
        &self,
        table: &str,
        topic: &str,
        partition: i32,
    ) -> Result<Vec<DataFile>, IngestError> {
        let names = match self {
            Lake::Local(lake) => lake.list(table)?,
            Lake::Remote(lake) => lake.list(table)?,
        };
        Ok(names
            .into_iter()
            .filter_map(|path| {
                let name = path.rsplit('/').next()?;
                let (t, p, first_offset) = parse_file_name(name)?;
                (t == topic && p == partition).then_some(DataFile { first_offset, path: path.clone() })
            })
            .collect())
    }

    /// The failscope metadata in a data file's footer.
    pub(crate) fn read_meta(&self, path: &str) -> Result<FileMeta, IngestError> {
        let kvs = match self {
            Lake::Local(lake) => {
                let full = lake.root.join(path);
                let file = File::open(&full).map_err(IngestError::io(&full))?;
                let reader = SerializedFileReader::new(file)?;
                reader.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default()
            }
            Lake::Remote(lake) => {
                // Whole-object read: simple, and files are bounded by the roll policy.
                let bytes =
                    lake.runtime.block_on(async { lake.lake.store().get(&lake.path(path)).await?.bytes().await })?;
                let reader = SerializedFileReader::new(bytes)?;
                reader.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default()
            }
        };
        FileMeta::from_key_values(&kvs).map_err(|reason| IngestError::BadFooter { path: path.to_string(), reason })
    }

    /// The names of the objects directly under `dir` (lake-relative); none if it is missing.
    pub(crate) fn list_names(&self, dir: &str) -> Result<Vec<String>, IngestError> {
        match self {
            Lake::Local(lake) => read_dir_names(&lake.root.join(dir)),
            Lake::Remote(lake) => {
                let prefix = lake.path(dir);
                lake.runtime.block_on(async {
                    let listed = lake.lake.store().list_with_delimiter(Some(&prefix)).await?;
                    Ok(listed.objects.into_iter().filter_map(|m| m.location.filename().map(str::to_string)).collect())
                })
            }
        }
    }

    /// Whether an object exists at `path` (lake-relative).
    pub(crate) fn exists(&self, path: &str) -> Result<bool, IngestError> {
        match self {
            Lake::Local(lake) => {
                let full = lake.root.join(path);
                match fs::symlink_metadata(&full) {
                    Ok(_) => Ok(true),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
                    Err(e) => Err(IngestError::io(&full)(e)),
                }
            }
            Lake::Remote(lake) => match lake.runtime.block_on(lake.lake.store().head(&lake.path(path))) {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(e.into()),
            },
        }
    }

    pub(crate) fn delete(&self, path: &str) -> Result<(), IngestError> {
        match self {
            Lake::Local(lake) => {
                let full = lake.root.join(path);
                match fs::remove_file(&full) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(IngestError::io(&full)(e)),
                    _ => Ok(()),
                }
            }
            Lake::Remote(lake) => Ok(lake.runtime.block_on(lake.lake.store().delete(&lake.path(path)))?),
        }
    }
}

/// A lake in a local directory.
#[derive(Debug)]
pub(crate) struct LocalLake {
    root: PathBuf,
    staging: PathBuf,
    /// Held open (and locked) for the life of the process, so other processes sharing the lake
    /// know our staging folder is in use.
    _staging_lock: File,
}

impl LocalLake {
    /// Opens (creating) the lake, and removes the staging folders of processes that are gone.
    pub(crate) fn open(root: &Path) -> Result<LocalLake, IngestError> {
        let staging_root = root.join(STAGING_DIR);
        fs::create_dir_all(&staging_root).map_err(IngestError::io(&staging_root))?;
        remove_abandoned_staging(&staging_root)?;
        let instance = uuid::Uuid::now_v7().simple().to_string();
        let lock_path = staging_root.join(format!("{instance}.lock"));
        let lock = File::create(&lock_path).map_err(IngestError::io(&lock_path))?;
        lock.try_lock().map_err(|e| IngestError::Config(format!("cannot lock {}: {e}", lock_path.display())))?;
        let staging = staging_root.join(&instance);
        fs::create_dir_all(&staging).map_err(IngestError::io(&staging))?;
        Ok(LocalLake { root: root.to_path_buf(), staging, _staging_lock: lock })
    }

    /// Writes `bytes` to a temporary file in our staging folder, fsyncs it, links it into place
    /// (create-only: an existing file is never replaced) and fsyncs the directory. A file
    /// already there with the same bytes is a retry of a publish whose end was not seen.
    fn publish(&self, path: &str, bytes: &[u8]) -> Result<(), IngestError> {
        let target = self.root.join(path);
        let dir = target.parent().expect("data file paths have a directory");
        fs::create_dir_all(dir).map_err(IngestError::io(dir))?;
        let name = target.file_name().expect("data file paths have a name").to_string_lossy();
        let temp = self.staging.join(format!("{name}.tmp"));
        let linked = write_synced(&temp, bytes).and_then(|()| match fs::hard_link(&temp, &target) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if fs::read(&target).map_err(IngestError::io(&target))? == bytes {
                    Ok(())
                } else {
                    Err(IngestError::Conflict { path: path.to_string() })
                }
            }
            linked => linked.map_err(IngestError::io(&target)),
        });
        // The temporary file goes whatever happened: on a full disk it holds the space a
        // retry needs.
        if let Err(e) = fs::remove_file(&temp)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(path = %temp.display(), error = %e, "cannot remove a temporary file");
        }
        linked?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(IngestError::io(dir))
    }

    /// Lake-relative paths of every file under `<table>/date=*/hour=*/`.
    fn list(&self, table: &str) -> Result<Vec<String>, IngestError> {
        let mut out = Vec::new();
        for date in read_dir_names(&self.root.join(table))? {
            for hour in read_dir_names(&self.root.join(table).join(&date))? {
                for name in read_dir_names(&self.root.join(table).join(&date).join(&hour))? {
                    out.push(format!("{table}/{date}/{hour}/{name}"));
                }
            }
        }
        Ok(out)
    }
}

impl Drop for LocalLake {
    /// A clean exit leaves no staging folder behind; after a crash the next start removes it.
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.staging);
        let _ = fs::remove_file(self.staging.with_extension("lock"));
    }
}

/// Creates `path` with `bytes`, flushed to disk.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), IngestError> {
    let mut file = File::create(path).map_err(IngestError::io(path))?;
    file.write_all(bytes).map_err(IngestError::io(path))?;
    file.sync_all().map_err(IngestError::io(path))
}

fn read_dir_names(dir: &Path) -> Result<Vec<String>, IngestError> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()).map_err(IngestError::io(dir)))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(IngestError::io(dir)(e)),
    }
}

/// Removes staging folders whose owner no longer holds its lock: leftovers of a crash.
fn remove_abandoned_staging(staging_root: &Path) -> Result<(), IngestError> {
    for name in read_dir_names(staging_root)? {
        let Some(instance) = name.strip_suffix(".lock") else { continue };
        let lock_path = staging_root.join(&name);
        let Ok(lock) = File::options().write(true).open(&lock_path) else { continue };
        if lock.try_lock().is_ok() {
            let dir = staging_root.join(instance);
            if dir.exists() {
                fs::remove_dir_all(&dir).map_err(IngestError::io(&dir))?;
            }
            fs::remove_file(&lock_path).map_err(IngestError::io(&lock_path))?;
        }
    }
    Ok(())
}

/// A lake in an object store.
#[derive(Debug)]
pub(crate) struct RemoteLake {
    lake: StoreLake,
    runtime: Handle,
}

impl RemoteLake {
    fn path(&self, relative: &str) -> ObjectPath {
        self.lake.path(relative)
    }

    /// A create-only put. An object already there with the same bytes is a retry of a put
    /// whose answer was lost (a timeout after the store wrote it).
    fn publish(&self, path: &str, bytes: Bytes) -> Result<(), IngestError> {
        let options = PutOptions { mode: PutMode::Create, ..Default::default() };
        let location = self.path(path);
        self.runtime.block_on(async {
            match self.lake.store().put_opts(&location, bytes.clone().into(), options).await {
                Ok(_) => Ok(()),
                Err(object_store::Error::AlreadyExists { .. }) => {
                    if self.lake.store().get(&location).await?.bytes().await? == bytes {
                        Ok(())
                    } else {
                        Err(IngestError::Conflict { path: path.to_string() })
                    }
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    fn list(&self, table: &str) -> Result<Vec<String>, IngestError> {
        let prefix = self.path(table);
        let strip = format!("{}/", self.lake.prefix());
        self.runtime.block_on(async {
            let metas: Vec<_> = self.lake.store().list(Some(&prefix)).try_collect().await?;
            Ok(metas
                .into_iter()
                .map(|m| m.location.to_string())
                .map(|p| p.strip_prefix(&strip).map(str::to_string).unwrap_or(p))
                .collect())
        })
    }
}
