//! Sample events as JSON, deterministic in their number: the ingest's tests spread theirs
//! over three event hours and both event types, the ingest's benchmarks use connect attempts
//! of one hour.

/// A valid event, about 350 bytes of JSON; `i` spreads events over three event hours. Returns
/// whether it is a connect attempt (else a job outcome), and the line.
pub fn event(i: usize, event_id: &str) -> (bool, String) {
    let hour = 21 + i % 3;
    if i.is_multiple_of(4) {
        let line = format!(
            r#"{{"event_type":"job_outcome","schema_version":1,"event_id":"{event_id}","worker_id":"w-{w}","region":"us-east-2","provider":"aws","zone":"us-east-2a","job_id":"job-{i}","project":"lmp","job_kind":"container_build","started_at":"2022-04-05T{hour}:01:00Z","finished_at":"2022-04-05T{hour}:{m:02}:00Z","status":"failed","exit_code":1,"failed_step":"build","log_tail":"error: build failed\n"}}"#,
            w = i % 97,
            m = i % 60
        );
        (false, line)
    } else {
        let line = format!(
            r#"{{"event_type":"connect_attempt","schema_version":1,"event_id":"{event_id}","worker_id":"w-{w}","region":"us-east-2","provider":"aws","zone":"us-east-2a","started_at":"2022-04-05T{hour}:{m:02}:{s:02}.{ms:03}Z","duration_ms":{d}.5,"target_service":"api","target_host":"api.example.com","target_port":443,"job_id":"job-{i}","phase":"log_upload","outcome":"{o}","attempt":1}}"#,
            w = i % 97,
            m = i % 60,
            s = (i / 7) % 60,
            ms = i % 1000,
            d = i % 30_000,
            o = if i.is_multiple_of(9) { "timeout" } else { "ok" }
        );
        (true, line)
    }
}

/// A realistic `connect_attempt` message (about 350 bytes of JSON) for the ingest benchmarks,
/// deterministic in `i`: one in eleven times out, spread over 300 workers and one hour.
pub fn connect_event(i: usize) -> String {
    let outcome = if i.is_multiple_of(11) { "timeout" } else { "ok" };
    format!(
        r#"{{"event_type":"connect_attempt","schema_version":1,"event_id":"0190a1b2-{a:04x}-7{b:03x}-8000-{i:012x}","worker_id":"worker-us-east-2-{w:03}","region":"us-east-2","provider":"aws","zone":"us-east-2a","started_at":"2022-04-05T23:{m:02}:{s:02}.{ms:03}Z","duration_ms":{d}.{f},"target_service":"api","target_host":"api.foundries.example","target_port":443,"job_id":"job-{j}","phase":"log_upload","outcome":"{outcome}","attempt":1}}"#,
        a = i % 65536,
        b = i % 4096,
        w = i % 300,
        m = (i / 60_000) % 60,
        s = (i / 1000) % 60,
        ms = i % 1000,
        d = (i * 37) % 30_000,
        f = i % 10,
        j = i / 7,
    )
}
