//! Where the lake is: a local directory or a prefix in an object store, from a `--lake` value
//! and, for a store, the usual environment variables. The ingest that writes the lake and the
//! analysis that reads it both open it through [`LakeLocation::parse`], so a `--lake` value
//! means the same to both and a store is configured one way; the layout inside the lake is
//! `failscope_schemas::lake`'s.
//!
//! An `s3://bucket/prefix` lake takes its credentials, region and endpoint from `AWS_*`
//! variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`
//! for an S3-compatible server, `AWS_ALLOW_HTTP=true` for one without TLS, …), a
//! `gs://bucket/prefix` lake from `GOOGLE_*` variables, as `object_store`'s `from_env`
//! builders read them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use url::Url;

/// A `--lake` value that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum LakeLocationError {
    #[error("--lake {lake}: not a valid URL")]
    Url {
        lake: String,
        #[source]
        source: url::ParseError,
    },
    #[error("--lake {lake}: unsupported scheme {scheme}, expected a directory, file://, s3:// or gs://")]
    Scheme { lake: String, scheme: String },
    #[error("--lake {lake}: no bucket in the URL")]
    NoBucket { lake: String },
    #[error("--lake {lake}: not a valid object path")]
    Prefix {
        lake: String,
        #[source]
        source: object_store::path::Error,
    },
    #[error("--lake {lake}: cannot configure the object store")]
    Store {
        lake: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot resolve the lake path {path}")]
    Path {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The lake: a directory or a prefix in an object store.
#[derive(Debug, Clone)]
pub enum LakeLocation {
    /// A local directory (absolute when it came from [`LakeLocation::parse`]).
    Local(PathBuf),
    /// A prefix in an object store.
    Store(StoreLake),
}

impl LakeLocation {
    /// Reads a `--lake` value: a directory (relative to the working directory, made absolute),
    /// `file:///dir`, `s3://bucket/prefix` or `gs://bucket/prefix`. A store is configured from
    /// the environment (see the crate documentation); nothing is contacted yet.
    pub fn parse(lake: &str) -> Result<LakeLocation, LakeLocationError> {
        let Some((scheme, rest)) = lake.split_once("://") else {
            return absolute(Path::new(lake)).map(LakeLocation::Local);
        };
        if scheme == "file" {
            return absolute(Path::new(rest)).map(LakeLocation::Local);
        }
        let url = Url::parse(lake).map_err(|source| LakeLocationError::Url { lake: lake.to_string(), source })?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(LakeLocationError::NoBucket { lake: lake.to_string() });
        }
        let store_error = |source| LakeLocationError::Store { lake: lake.to_string(), source };
        let store: Arc<dyn ObjectStore> = match scheme {
            "s3" => Arc::new(AmazonS3Builder::from_env().with_url(url.as_str()).build().map_err(store_error)?),
            "gs" => {
                Arc::new(GoogleCloudStorageBuilder::from_env().with_url(url.as_str()).build().map_err(store_error)?)
            }
            other => return Err(LakeLocationError::Scheme { lake: lake.to_string(), scheme: other.to_string() }),
        };
        StoreLake::new(lake, store).map(LakeLocation::Store)
    }
}

impl From<PathBuf> for LakeLocation {
    fn from(dir: PathBuf) -> LakeLocation {
        LakeLocation::Local(dir)
    }
}

impl From<&Path> for LakeLocation {
    fn from(dir: &Path) -> LakeLocation {
        LakeLocation::Local(dir.to_path_buf())
    }
}

impl fmt::Display for LakeLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LakeLocation::Local(dir) => write!(f, "{}", dir.display()),
            LakeLocation::Store(lake) => write!(f, "{lake}"),
        }
    }
}

/// A lake under a prefix of one bucket: `s3://bucket/prefix`.
#[derive(Debug, Clone)]
pub struct StoreLake {
    /// The store's root, `s3://bucket`: what a DataFusion runtime registers the store under.
    root: Url,
    store: Arc<dyn ObjectStore>,
    /// The lake's prefix in the bucket; empty for a lake at the bucket's root.
    prefix: ObjectPath,
}

impl StoreLake {
    /// The lake at `lake` (`s3://bucket/prefix`) in `store`, a store of that bucket.
    pub fn new(lake: &str, store: Arc<dyn ObjectStore>) -> Result<StoreLake, LakeLocationError> {
        let url = Url::parse(lake).map_err(|source| LakeLocationError::Url { lake: lake.to_string(), source })?;
        let lake = lake.to_string();
        let bucket = url
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| LakeLocationError::NoBucket { lake: lake.clone() })?;
        let root = Url::parse(&format!("{}://{bucket}", url.scheme()))
            .map_err(|source| LakeLocationError::Url { lake: lake.clone(), source })?;
        let prefix =
            ObjectPath::from_url_path(url.path()).map_err(|source| LakeLocationError::Prefix { lake, source })?;
        Ok(StoreLake { root, store, prefix })
    }

    /// The store, rooted at the bucket.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The lake's prefix in the bucket.
    pub fn prefix(&self) -> &ObjectPath {
        &self.prefix
    }

    /// The store's root URL, `s3://bucket`.
    pub fn root_url(&self) -> &Url {
        &self.root
    }

    /// The object path of a lake-relative path (`connect_attempts/date=…/….parquet`).
    pub fn path(&self, relative: &str) -> ObjectPath {
        if self.prefix.as_ref().is_empty() {
            ObjectPath::from(relative)
        } else {
            ObjectPath::from(format!("{}/{relative}", self.prefix))
        }
    }

    /// The URL of a directory of the lake, with the trailing slash that makes DataFusion list
    /// it as a directory: `s3://bucket/prefix/connect_attempts/`.
    pub fn dir_url(&self, relative: &str) -> String {
        format!("{}/{}/", self.root.as_str().trim_end_matches('/'), self.path(relative))
    }
}

impl fmt::Display for StoreLake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.root.as_str().trim_end_matches('/'), self.prefix)
    }
}

fn absolute(dir: &Path) -> Result<PathBuf, LakeLocationError> {
    std::path::absolute(dir).map_err(|source| LakeLocationError::Path { path: dir.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_lake(lake: &str) -> StoreLake {
        StoreLake::new(lake, Arc::new(object_store::memory::InMemory::new())).expect("store lake")
    }

    #[test]
    fn a_store_lake_splits_into_root_and_prefix() {
        let lake = store_lake("s3://bucket/some/prefix/");
        assert_eq!(lake.root_url().as_str(), "s3://bucket");
        assert_eq!(lake.prefix().as_ref(), "some/prefix");
        assert_eq!(lake.path("connect_attempts/x.parquet").as_ref(), "some/prefix/connect_attempts/x.parquet");
        assert_eq!(lake.dir_url("connect_attempts"), "s3://bucket/some/prefix/connect_attempts/");
        assert_eq!(lake.to_string(), "s3://bucket/some/prefix");
    }

    #[test]
    fn a_lake_at_the_bucket_root_has_no_prefix() {
        let lake = store_lake("s3://bucket");
        assert_eq!(lake.prefix().as_ref(), "");
        assert_eq!(lake.path("job_outcomes/x.parquet").as_ref(), "job_outcomes/x.parquet");
        assert_eq!(lake.dir_url("job_outcomes"), "s3://bucket/job_outcomes/");
    }

    #[test]
    fn directories_are_local_and_absolute() {
        for (lake, absolute) in [("/data/lake", "/data/lake"), ("file:///data/lake", "/data/lake")] {
            let LakeLocation::Local(dir) = LakeLocation::parse(lake).expect("parses") else {
                panic!("{lake}: not local")
            };
            assert_eq!(dir, Path::new(absolute));
        }
        let LakeLocation::Local(dir) = LakeLocation::parse("lake").expect("parses") else { panic!("not local") };
        assert!(dir.is_absolute() && dir.ends_with("lake"), "{}", dir.display());
    }

    #[test]
    fn bad_values_are_refused_with_the_reason() {
        for (lake, reason) in [("ftp://host/lake", "unsupported scheme ftp"), ("s3://", "no bucket")] {
            let error = LakeLocation::parse(lake).expect_err(lake).to_string();
            assert!(error.contains(reason), "{lake}: {error}");
        }
    }
}
