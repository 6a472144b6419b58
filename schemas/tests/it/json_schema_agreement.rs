//! Keeps the Rust types and the committed JSON Schema files in agreement, both ways: every
//! mutation of a valid example derived from the JSON Schema gets the same verdict from the
//! schema validator and from `failscope_schemas::decode`, and the Rust types serialize exactly
//! the properties the schema declares.

use std::collections::BTreeSet;

use failscope_schemas::{CONNECT_ATTEMPT_JSON_SCHEMA, ContractError, JOB_OUTCOME_JSON_SCHEMA, decode};
use serde_json::{Value, json};

fn full_connect_attempt() -> Value {
    json!({
        "event_type": "connect_attempt", "schema_version": 1,
        "event_id": "0190a1b2-0000-7000-8000-000000000001", "worker_id": "w-17",
        "region": "us-east-2", "provider": "aws", "zone": "us-east-2a",
        "started_at": "2022-04-05T23:04:00.123Z", "duration_ms": 30000.0,
        "target_service": "api", "target_host": "api.example.com", "target_port": 443,
        "target_addr": "203.0.113.7", "target_region": "gcp-us-central1", "target_owner": "platform",
        "job_id": "job-1",
        "phase": "log_upload", "outcome": "timeout", "errno": 110, "attempt": 2,
        "error": "connect timed out"
    })
}

fn full_job_outcome() -> Value {
    json!({
        "event_type": "job_outcome", "schema_version": 1,
        "event_id": "0190a1b2-0000-7000-8000-000000000002", "worker_id": "w-17",
        "region": "us-east-2", "provider": "aws", "zone": "us-east-2a",
        "job_id": "job-1", "run_attempt": 1, "project": "lmp", "job_kind": "yocto_build",
        "queued_at": "2022-04-05T23:00:00Z", "started_at": "2022-04-05T23:01:00Z",
        "finished_at": "2022-04-05T23:59:00Z", "status": "failed", "exit_code": 0, "signal": 9,
        "failed_step": "upload", "runner_reason": "log_upload_failed",
        "log_tail": "ERROR: upload failed\n", "labels": {"branch": "main"}
    })
}

struct Contract {
    schema: Value,
    validator: jsonschema::Validator,
    full: Value,
}

impl Contract {
    fn new(schema_text: &str, full: Value) -> Self {
        let schema: Value = serde_json::from_str(schema_text).expect("schema file is JSON");
        let validator = jsonschema::validator_for(&schema).expect("schema file is a valid JSON Schema");
        Contract { schema, validator, full }
    }

    fn properties(&self) -> BTreeSet<String> {
        self.schema["properties"].as_object().expect("properties").keys().cloned().collect()
    }

    fn required(&self) -> BTreeSet<String> {
        let required = self.schema["required"].as_array().expect("required");
        required.iter().map(|v| v.as_str().expect("string").to_string()).collect()
    }

    fn minimal(&self) -> Value {
        let required = self.required();
        let mut v = self.full.clone();
        v.as_object_mut().expect("object").retain(|k, _| required.contains(k));
        v
    }

    /// Asserts that the JSON Schema and Rust agree on `value`, and that both say `want_valid`.
    fn assert_verdict(&self, what: &str, value: &Value, want_valid: bool) -> Option<ContractError> {
        let bytes = serde_json::to_vec(value).expect("serializable");
        let by_schema = self.validator.is_valid(value);
        let by_rust = decode(&bytes);
        assert_eq!(by_schema, want_valid, "JSON Schema verdict for {what}: {value}");
        assert_eq!(by_rust.is_ok(), want_valid, "Rust verdict for {what}: {by_rust:?}");
        by_rust.err()
    }

    fn check_every_field(&self) {
        self.assert_verdict("full example", &self.full, true);
        self.assert_verdict("minimal example", &self.minimal(), true);
        let required = self.required();
        for field in self.properties() {
            let spec = &self.schema["properties"][&field];
            let with = |value: Value| {
                let mut v = self.full.clone();
                v[&field] = value;
                v
            };
            let mut without = self.full.clone();
            without.as_object_mut().expect("object").remove(&field);
            let is_required = required.contains(&field);
            let err = self.assert_verdict(&format!("{field} removed"), &without, !is_required);
            if let Some(err) = err {
                assert!(err.to_string().starts_with(&field), "error should name {field}: {err}");
            }
            if !is_required {
                self.assert_verdict(&format!("{field} null"), &with(Value::Null), true);
            }
            let types: Vec<&str> = match &spec["type"] {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => vec![],
            };
            // A value of the wrong JSON type.
            let wrong = if types.contains(&"string") || spec.get("enum").is_some() || spec.get("const").is_some() {
                json!(12345)
            } else {
                json!("not-a-number")
            };
            let err = self.assert_verdict(&format!("{field} of wrong type"), &with(wrong), false);
            assert!(err.expect("invalid").to_string().starts_with(&field), "error should name {field}");
            if types.contains(&"integer") {
                self.assert_verdict(&format!("{field} fractional"), &with(json!(1.5)), false);
            }
            if spec.get("minLength").is_some() {
                self.assert_verdict(&format!("{field} empty"), &with(json!("")), false);
            }
            if let Some(min) = spec.get("minimum").and_then(Value::as_f64) {
                let (at, below) = if types.contains(&"integer") {
                    (json!(min as i64), json!(min as i64 - 1))
                } else {
                    (json!(min), json!(min - 0.5))
                };
                self.assert_verdict(&format!("{field} at minimum"), &with(at), true);
                self.assert_verdict(&format!("{field} below minimum"), &with(below), false);
            }
            if let Some(max) = spec.get("maximum").and_then(Value::as_f64) {
                self.assert_verdict(&format!("{field} at maximum"), &with(json!(max as i64)), true);
                self.assert_verdict(&format!("{field} above maximum"), &with(json!(max as i64 + 1)), false);
            }
            if let Some(values) = spec.get("enum").and_then(Value::as_array) {
                for value in values {
                    self.assert_verdict(&format!("{field}={value}"), &with(value.clone()), true);
                }
                self.assert_verdict(&format!("{field} unknown value"), &with(json!("no_such_value")), false);
            }
            if spec.get("pattern").is_some() {
                for bad in ["2022-04-05", "2022-04-05T23:04:00", "last tuesday"] {
                    self.assert_verdict(&format!("{field}={bad}"), &with(json!(bad)), false);
                }
                self.assert_verdict(&format!("{field} with offset"), &with(json!("2022-04-06T01:04:00+02:00")), true);
            }
        }
        let mut extra = self.full.clone();
        extra["producer_extension"] = json!({"anything": [1, 2]});
        self.assert_verdict("unknown extra field", &extra, true);
        let err = self.assert_verdict("schema_version 2", &self.full_with("schema_version", json!(2)), false);
        let reason = err.expect("rejected").to_string();
        assert!(reason.contains("unsupported schema_version 2"), "{reason}");
    }

    fn full_with(&self, field: &str, value: Value) -> Value {
        let mut v = self.full.clone();
        v[field] = value;
        v
    }

    /// The Rust types serialize exactly the schema's properties (full example) and exactly its
    /// required properties (minimal example).
    fn check_rust_fields_match(&self) {
        for (example, want) in [(self.full.clone(), self.properties()), (self.minimal(), self.required())] {
            let bytes = serde_json::to_vec(&example).expect("serializable");
            let event = decode(&bytes).expect("valid");
            let back = match event {
                failscope_schemas::Event::ConnectAttempt(e) => serde_json::to_value(e),
                failscope_schemas::Event::JobOutcome(e) => serde_json::to_value(e),
            }
            .expect("serializable");
            let keys: BTreeSet<String> = back.as_object().expect("object").keys().cloned().collect();
            assert_eq!(keys, want);
        }
    }
}

#[test]
fn connect_attempt_schema_and_types_agree() {
    let contract = Contract::new(CONNECT_ATTEMPT_JSON_SCHEMA, full_connect_attempt());
    contract.check_every_field();
    contract.check_rust_fields_match();
}

#[test]
fn job_outcome_schema_and_types_agree() {
    let contract = Contract::new(JOB_OUTCOME_JSON_SCHEMA, full_job_outcome());
    contract.check_every_field();
    contract.check_rust_fields_match();
    let long_ascii = "x".repeat(16 * 1024 + 1);
    contract.assert_verdict("log_tail too long", &contract.full_with("log_tail", json!(long_ascii)), false);
    let long_but_within = "é".repeat(16 * 1024);
    contract.assert_verdict("log_tail at limit", &contract.full_with("log_tail", json!(long_but_within)), true);
    contract.assert_verdict("label not a string", &contract.full_with("labels", json!({"n": 1})), false);
}
