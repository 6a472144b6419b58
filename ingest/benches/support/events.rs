//! Realistic `connect_attempt` messages (about 350 bytes of JSON) for the ingest benchmarks,
//! deterministic in `i`: one in eleven times out, spread over 300 workers and one hour.

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
