//! Turning message bytes into contract types, with errors that name the field and the reason.
//!
//! The fast path is a single typed `serde_json` pass that borrows strings from the input. Only
//! when it fails do we parse again, slower, to explain the failure precisely: which version,
//! which field path, which reason.

use serde::Deserialize;

use crate::{CURRENT_SCHEMA_VERSION, ConnectAttempt, ContractError, Event, EventType, JobOutcome, TypedEvent};

/// Decodes a message of a known type, e.g. from a topic that carries only that type.
pub fn decode_as<'a, T: TypedEvent<'a>>(bytes: &'a [u8]) -> Result<T, ContractError> {
    ensure_object(bytes)?;
    // Checking the whole message as UTF-8 once is cheaper than serde_json checking every
    // string it borrows, which it skips for a `&str` input.
    let Ok(text) = std::str::from_utf8(bytes) else { return Err(explain::<T>(bytes)) };
    match serde_json::from_str::<T>(text) {
        Ok(event) => {
            check_version(u64::from(event.schema_version()))?;
            if event.declared_type() != T::EVENT_TYPE {
                return Err(ContractError::WrongEventType { expected: T::EVENT_TYPE, found: event.declared_type() });
            }
            event.check()?;
            Ok(event)
        }
        Err(_) => Err(explain::<T>(bytes)),
    }
}

/// Decodes a message of either type, as named by its `event_type` field.
pub fn decode(bytes: &[u8]) -> Result<Event<'_>, ContractError> {
    #[derive(Deserialize)]
    struct Header {
        #[serde(default)]
        event_type: Option<serde_json::Value>,
        #[serde(default)]
        schema_version: Option<serde_json::Value>,
    }
    ensure_object(bytes)?;
    let header: Header =
        serde_json::from_slice(bytes).map_err(|e| ContractError::Malformed { reason: e.to_string() })?;
    if let Some(version) = header.schema_version.as_ref().and_then(serde_json::Value::as_u64) {
        check_version(version)?;
    }
    let event_type = match header.event_type {
        None | Some(serde_json::Value::Null) => {
            return Err(ContractError::invalid("event_type", "missing required field"));
        }
        Some(serde_json::Value::String(name)) => name,
        Some(other) => return Err(ContractError::invalid("event_type", format!("expected a string, found {other}"))),
    };
    match EventType::from_wire(&event_type) {
        Some(EventType::ConnectAttempt) => decode_as::<ConnectAttempt<'_>>(bytes).map(Event::ConnectAttempt),
        Some(EventType::JobOutcome) => decode_as::<JobOutcome<'_>>(bytes).map(Event::JobOutcome),
        None => Err(ContractError::invalid(
            "event_type",
            format!("unknown event type `{event_type}`, expected `connect_attempt` or `job_outcome`"),
        )),
    }
}

/// A derived struct also accepts a JSON array of its fields in order; the contract has only
/// objects.
fn ensure_object(bytes: &[u8]) -> Result<(), ContractError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(()),
        _ => Err(ContractError::Malformed { reason: "expected a JSON object".to_string() }),
    }
}

fn check_version(version: u64) -> Result<(), ContractError> {
    if version == 0 {
        Err(ContractError::invalid("schema_version", "must be >= 1"))
    } else if version > u64::from(CURRENT_SCHEMA_VERSION) {
        Err(ContractError::UnsupportedVersion { version, supported: CURRENT_SCHEMA_VERSION })
    } else {
        Ok(())
    }
}

/// Finds the most useful reason why `bytes` did not decode as `T`.
fn explain<'a, T: TypedEvent<'a>>(bytes: &'a [u8]) -> ContractError {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(e) => return ContractError::Malformed { reason: e.to_string() },
    };
    let Some(object) = value.as_object() else {
        return ContractError::Malformed { reason: "expected a JSON object".to_string() };
    };
    // A newer producer's message may fail on fields we do not know; say so rather than
    // blaming a field.
    if let Some(version) = object.get("schema_version").and_then(serde_json::Value::as_u64)
        && let Err(e) = check_version(version)
    {
        return e;
    }
    if let Some(found) = object.get("event_type").and_then(|v| v.as_str()).and_then(EventType::from_wire)
        && found != T::EVENT_TYPE
    {
        return ContractError::WrongEventType { expected: T::EVENT_TYPE, found };
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(_) => ContractError::Malformed { reason: "trailing characters after the JSON object".to_string() },
        Err(e) => {
            let path = e.path().to_string();
            let reason = strip_position(&e.inner().to_string());
            match reason.strip_prefix("missing field `").and_then(|r| r.strip_suffix('`')) {
                Some(field) if path == "." => ContractError::invalid(field, "missing required field"),
                _ => ContractError::invalid(path, reason),
            }
        }
    }
}

/// serde_json appends " at line L column C"; the field path already locates the problem.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECT: &str = r#"{"event_type":"connect_attempt","schema_version":1,"event_id":"0190a1b2-0000-7000-8000-000000000001","worker_id":"w-1","region":"us-east-2","provider":"aws","started_at":"2022-04-05T23:04:00.000Z","duration_ms":3000.5,"target_service":"api","target_host":"api.example.com","target_port":443,"outcome":"timeout","errno":110,"attempt":1}"#;

    fn with(field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_str(CONNECT).expect("fixture is json");
        v[field] = value;
        serde_json::to_vec(&v).expect("serializable")
    }

    fn error_of(bytes: &[u8]) -> String {
        decode(bytes).expect_err("must be rejected").to_string()
    }

    #[test]
    fn invalid_utf8_inside_a_string_is_malformed() {
        let bytes = CONNECT.replace("us-east-2", "us-east-\u{1}").into_bytes();
        let bytes: Vec<u8> = bytes.into_iter().map(|b| if b == 1 { 0xff } else { b }).collect();
        let err = decode_as::<ConnectAttempt<'_>>(&bytes).expect_err("must be rejected");
        assert!(matches!(err, ContractError::Malformed { .. }), "{err}");
    }

    #[test]
    fn decodes_and_borrows_strings() {
        let Event::ConnectAttempt(e) = decode(CONNECT.as_bytes()).expect("valid") else { panic!("wrong type") };
        assert!(matches!(e.worker_id, std::borrow::Cow::Borrowed("w-1")));
        assert_eq!(e.target_port, 443);
        assert_eq!(e.errno, Some(110));
    }

    #[test]
    fn errors_name_the_field_and_reason() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "malformed json"),
            (b"[1,2]".to_vec(), "malformed json"),
            (with("schema_version", 2.into()), "unsupported schema_version 2"),
            (with("schema_version", 0.into()), "schema_version: must be >= 1"),
            (with("outcome", "hung".into()), "outcome: unknown variant `hung`"),
            (with("target_port", 70000.into()), "target_port: invalid value"),
            (with("target_port", 0.into()), "target_port: must be between 1 and 65535"),
            (with("started_at", "yesterday".into()), "started_at: not an RFC 3339 timestamp"),
            (with("duration_ms", (-1.0).into()), "duration_ms: must be a finite number >= 0"),
            (with("region", "".into()), "region: must not be empty"),
            (with("attempt", "one".into()), "attempt: invalid type: string"),
            (with("event_type", "deploy".into()), "event_type: unknown event type `deploy`"),
            (with("event_type", serde_json::Value::Null), "event_type: missing required field"),
        ];
        for (bytes, want) in cases {
            let got = error_of(&bytes);
            assert!(got.contains(want), "want {want:?} in {got:?}");
        }
        let mut v: serde_json::Value = serde_json::from_str(CONNECT).expect("json");
        v.as_object_mut().expect("object").remove("target_host");
        assert_eq!(error_of(&serde_json::to_vec(&v).expect("json")), "target_host: missing required field");
    }

    #[test]
    fn a_newer_version_is_rejected_even_if_it_decodes() {
        let err = decode_as::<ConnectAttempt<'_>>(&with("schema_version", 2.into())).expect_err("v2");
        assert!(matches!(err, ContractError::UnsupportedVersion { version: 2, .. }), "{err}");
    }

    #[test]
    fn a_message_of_the_other_type_is_rejected_by_decode_as() {
        let err = decode_as::<JobOutcome<'_>>(CONNECT.as_bytes()).expect_err("wrong type");
        assert_eq!(err.kind(), "wrong_event_type");
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(decode(&with("kernel", "6.1".into())).is_ok());
    }
}
