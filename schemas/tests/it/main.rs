//! The contract crate's integration tests: one test binary, `cargo test -p failscope-schemas
//! --test it`. Each test file is a module here.

mod json_schema_agreement;
