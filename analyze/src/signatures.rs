//! The signature knowledge base (`queries/signatures.toml`): known failure texts with their
//! attribution, loaded at start-up and exposed to SQL as a table and a matching function.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::cast::as_string_array;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use regex::{Regex, RegexSet};
use serde::Deserialize;

use crate::error::{AnalyzeError, Result};
use crate::query_set::QuerySet;

/// The causes a signature may name, which are the classification's causes.
pub(crate) const CAUSES: &[&str] = &[
    "infra.network.connect_timeout",
    "infra.network.refused",
    "infra.network.reset",
    "infra.network.dns",
    "infra.network.unreachable",
    "infra.network.tls",
    "infra.dependency",
    "infra.worker.lost",
    "infra.worker.oom",
    "infra.worker.disk_full",
    "infra.setup",
    "infra.platform",
    "user.build",
    "user.test",
    "user.config",
    "user.script",
    "user.timeout",
];

/// One known failure text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KnownSignature {
    pub(crate) id: String,
    pub(crate) pattern: String,
    pub(crate) attribution: String,
    pub(crate) cause: String,
    pub(crate) description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignatureFile {
    signature: Vec<KnownSignature>,
}

/// The loaded knowledge base, in file order (first match wins).
#[derive(Clone)]
pub(crate) struct Signatures {
    entries: Vec<KnownSignature>,
    set: RegexSet,
}

impl fmt::Debug for Signatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signatures").field("n_signatures", &self.entries.len()).finish()
    }
}

impl Signatures {
    /// Validates the TOML knowledge base of a query set.
    pub(crate) fn load(set: &QuerySet) -> Result<Self> {
        let (path, text) = set.signatures()?;
        Self::parse(text).map_err(|reason| AnalyzeError::Signatures { path: PathBuf::from(path), reason })
    }

    /// Parses a TOML knowledge base; the error says which entry is wrong.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let file: SignatureFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Self::new(file.signature)
    }

    pub(crate) fn new(entries: Vec<KnownSignature>) -> Result<Self, String> {
        let mut seen = std::collections::HashSet::new();
        for s in &entries {
            if !seen.insert(s.id.as_str()) {
                return Err(format!("duplicate signature id {:?}", s.id));
            }
            if !matches!(s.attribution.as_str(), "infra" | "user") {
                return Err(format!("signature {:?}: attribution must be infra or user", s.id));
            }
            if !CAUSES.contains(&s.cause.as_str()) || !s.cause.starts_with(s.attribution.as_str()) {
                return Err(format!("signature {:?}: cause {:?} is not a {} cause", s.id, s.cause, s.attribution));
            }
            Regex::new(&s.pattern).map_err(|e| format!("signature {:?}: {e}", s.id))?;
        }
        let set = RegexSet::new(entries.iter().map(|s| &s.pattern)).map_err(|e| e.to_string())?;
        Ok(Signatures { entries, set })
    }

    /// The first signature (in file order) whose pattern matches `text`.
    pub(crate) fn first_match(&self, text: &str) -> Option<&KnownSignature> {
        self.set.matches(text).iter().next().map(|i| &self.entries[i])
    }

    /// The knowledge base as the `signatures` table.
    pub(crate) fn to_batch(&self) -> Result<RecordBatch> {
        let column = |f: fn(&KnownSignature) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(self.entries.iter().map(f)))
        };
        let schema = Schema::new(
            ["signature_id", "pattern", "attribution", "cause", "description"]
                .map(|name| Field::new(name, DataType::Utf8, false))
                .to_vec(),
        );
        Ok(RecordBatch::try_new(
            Arc::new(schema),
            vec![
                column(|s| &s.id),
                column(|s| &s.pattern),
                column(|s| &s.attribution),
                column(|s| &s.cause),
                column(|s| &s.description),
            ],
        )?)
    }
}

/// `match_signature(text)`: the id of the first signature matching `text`, or NULL.
#[derive(Debug)]
pub(crate) struct MatchSignature {
    signatures: Signatures,
    signature: Signature,
}

impl MatchSignature {
    pub(crate) const NAME: &'static str = "match_signature";

    pub(crate) fn new(signatures: Signatures) -> Self {
        MatchSignature { signatures, signature: Signature::string(1, Volatility::Immutable) }
    }
}

impl PartialEq for MatchSignature {
    fn eq(&self, other: &Self) -> bool {
        self.signatures.entries == other.signatures.entries
    }
}

impl Eq for MatchSignature {}

impl Hash for MatchSignature {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for s in &self.signatures.entries {
            s.id.hash(state);
            s.pattern.hash(state);
        }
    }
}

impl ScalarUDFImpl for MatchSignature {
    fn name(&self) -> &str {
        Self::NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> datafusion::error::Result<ColumnarValue> {
        let [text] = args.args.as_slice() else {
            return Err(DataFusionError::Plan(format!("{} takes one argument", Self::NAME)));
        };
        // Lake strings may arrive as Utf8View; matching works on plain Utf8.
        let text = arrow::compute::cast(&text.to_array(args.number_rows)?, &DataType::Utf8)?;
        let text = as_string_array(&text)?;
        let mut ids = StringBuilder::with_capacity(text.len(), 16 * text.len());
        for value in text.iter() {
            ids.append_option(value.and_then(|t| self.signatures.first_match(t)).map(|s| s.id.as_str()));
        }
        Ok(ColumnarValue::Array(Arc::new(ids.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Signatures {
        Signatures::load(&QuerySet::builtin()).expect("the shipped knowledge base is valid")
    }

    #[test]
    fn shipped_signatures_match_realistic_log_tails() {
        let kb = shipped();
        let cases = [
            (
                "curl: (28) Failed to connect to api.foundries.io port 443: Connection timed out",
                Some("net-connect-timeout"),
            ),
            (
                "fatal: unable to access 'https://source.foundries.io/x.git/': Recv failure: Connection reset by peer",
                Some("net-connection-reset"),
            ),
            ("ssh: connect to host git port 22: Connection refused", Some("net-connection-refused")),
            ("Could not resolve host: github.com; Temporary failure in name resolution", Some("net-dns")),
            ("connect: Network is unreachable", Some("net-unreachable")),
            ("net/http: TLS handshake timeout", Some("net-tls")),
            ("The requested URL returned error: 503 Service Unavailable", Some("dep-http-5xx")),
            ("tar: write error: No space left on device", Some("worker-disk-full")),
            ("cp: cannot stat 'sstate-cache/ab/x.tgz': Stale file handle", Some("worker-stale-nfs")),
            ("Memory cgroup out of memory: Killed process 4242 (cc1plus)", Some("worker-oom-kill")),
            (
                "ERROR: Task (/srv/meta/recipes-kernel/linux/linux-lmp_5.15.bb:do_compile) failed with exit code '1'",
                Some("yocto-do-compile"),
            ),
            (
                "ERROR: Task (/srv/meta/recipes-core/images/lmp.bb:do_rootfs) failed with exit code '1'",
                Some("yocto-task-failed"),
            ),
            ("error: could not compile `failscope` due to 2 previous errors", Some("rust-compile-error")),
            ("main.c:3:1: error: expected ';' before '}' token", Some("c-compile-error")),
            ("test result: FAILED. 10 passed; 2 failed; 0 ignored", Some("test-summary-cargo")),
            ("==== 2 failed, 98 passed in 12.31s ====", Some("test-summary-pytest")),
            ("--- FAIL: TestRetry (0.01s)", Some("test-summary-generic")),
            ("yaml: line 12: did not find expected key", Some("config-parse-error")),
            ("./build.sh: line 4: bitbake: command not found", Some("script-command-not-found")),
            ("Build finished successfully", None),
        ];
        for (text, want) in cases {
            assert_eq!(kb.first_match(text).map(|s| s.id.as_str()), want, "{text}");
        }
    }

    #[test]
    fn infra_signatures_come_first_when_both_match() {
        let text = "error: could not compile `x`\nwarning: spurious network error: Connection timed out";
        assert_eq!(shipped().first_match(text).map(|s| s.attribution.as_str()), Some("infra"));
    }

    #[test]
    fn invalid_knowledge_bases_are_refused() {
        let entry = |id: &str, pattern: &str, attribution: &str, cause: &str| {
            format!(
                "[[signature]]\nid = '{id}'\npattern = '{pattern}'\nattribution = '{attribution}'\ncause = '{cause}'\ndescription = 'd'\n"
            )
        };
        let cases = [
            entry("a", "(unclosed", "infra", "infra.setup"),
            entry("a", "x", "vendor", "infra.setup"),
            entry("a", "x", "user", "infra.setup"),
            entry("a", "x", "infra", "infra.bogus"),
            entry("a", "x", "infra", "infra.setup") + &entry("a", "y", "user", "user.build"),
        ];
        for text in cases {
            assert!(Signatures::parse(&text).is_err(), "{text}");
        }
        assert!(Signatures::parse(&entry("a", "x", "user", "user.build")).is_ok());
    }
}
