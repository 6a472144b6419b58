//! Benchmark (a) and (c) of the ingest: decode → Arrow → Parquet throughput on one core, from
//! in-memory messages of realistic size, and Parquet bytes ÷ JSON bytes.
//!
//! `cargo bench -p failscope-ingest --bench encode -- [N_EVENTS]` (default 1,000,000).

use std::time::{Duration, Instant};

use failscope_ingest::{EventWindow, FileMeta, PartitionBuffer, encode_file};
use failscope_schemas::{EventType, Timestamp};
use failscope_test_support::events::connect_event;

fn main() {
    let n_events: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let messages: Vec<Vec<u8>> = (0..n_events).map(|i| connect_event(i).into_bytes()).collect();
    let json_bytes: usize = messages.iter().map(Vec::len).sum();
    let rows_per_file = 250_000;
    let window =
        EventWindow { max_age: Duration::from_secs(100 * 365 * 86_400), max_lead: Duration::from_secs(86_400) };
    let mut best = f64::MAX;
    let mut parquet_bytes = 0;
    for _ in 0..3 {
        let started = Instant::now();
        parquet_bytes = 0;
        for (chunk_index, chunk) in messages.chunks(rows_per_file).enumerate() {
            let first = (chunk_index * rows_per_file) as i64;
            let mut buffer = PartitionBuffer::new(EventType::ConnectAttempt, first);
            for (i, payload) in chunk.iter().enumerate() {
                // The clock is read per message, as the consume loop does.
                buffer.push(first + i as i64, payload, &window, Timestamp::now()).expect("benchmark events are valid");
            }
            let (next_offset, flush_files) = (buffer.next_offset, buffer.hours.len() as u32);
            for rows in buffer.hours.values_mut() {
                let meta = FileMeta {
                    topic: "bench".into(),
                    partition: 0,
                    first_offset: rows.first_offset,
                    last_offset: rows.last_offset,
                    flush_start: first,
                    flush_end: next_offset,
                    flush_files,
                    flush_id: None,
                    owner_generation: None,
                    schema_version: 1,
                };
                let batch = rows.finish().expect("batch");
                parquet_bytes += encode_file(&batch, "started_at", &meta).expect("encode").len();
            }
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    println!("events: {n_events}, mean JSON size: {} bytes", json_bytes / n_events);
    println!("decode -> arrow -> parquet (1 core, best of 3): {:.0} events/s", n_events as f64 / best);
    println!("parquet bytes / json bytes: {:.4}", parquet_bytes as f64 / json_bytes as f64);
}
