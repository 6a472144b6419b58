//! `failscope health`: the region health at an instant, or the state changes of a period, by
//! replaying the detector over the lake.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use comfy_table::Table;
use failscope_schemas::Timestamp;
use tokio_util::sync::CancellationToken;

use super::{HealthArgs, HealthFormat, parse_instant};
use crate::Analyzer;
use crate::health::{DetectorConfig, HealthChange, HealthSnapshot, replay};

/// Exit status of a command stopped by SIGINT or SIGTERM, as a shell reports it.
const INTERRUPTED: u8 = 130;

/// Runs `failscope health`; stops with status 130 when `shutdown` is cancelled.
pub async fn run_health(args: HealthArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    let now = Timestamp::now();
    let instant = |flag: &str, text: &str| {
        parse_instant(text, now).map_err(anyhow::Error::msg).with_context(|| format!("invalid --{flag}"))
    };
    let period = match (&args.from, &args.until) {
        (Some(from), Some(until)) => Some((instant("from", from)?, instant("until", until)?)),
        _ => None,
    };
    if let Some((from, until)) = period {
        anyhow::ensure!(from < until, "--from ({from}) must be before --until ({until})");
    }
    let at = instant("at", &args.at)?;
    let work = async {
        let analyzer = Analyzer::open(&args.lake.catalog_config()?).await.context("cannot open the lake")?;
        let (from, until) = period.unwrap_or((at, at));
        replay(&analyzer, from, until, DetectorConfig::default()).await.context("the detector failed")
    };
    let replayed = tokio::select! {
        replayed = work => replayed?,
        () = shutdown.cancelled() => {
            eprintln!("interrupted");
            return Ok(ExitCode::from(INTERRUPTED));
        }
    };
    let mut stdout = std::io::stdout().lock();
    match (period.is_some(), args.format) {
        (true, HealthFormat::Json) => {
            for change in &replayed.changes {
                serde_json::to_writer(&mut stdout, change)?;
                writeln!(stdout)?;
            }
        }
        (true, HealthFormat::Table) => writeln!(stdout, "{}", changes_table(&replayed.changes))?,
        (false, HealthFormat::Json) => {
            serde_json::to_writer_pretty(&mut stdout, &replayed.snapshot)?;
            writeln!(stdout)?;
        }
        (false, HealthFormat::Table) => write_snapshot(&replayed.snapshot, &mut stdout)?,
    }
    stdout.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn changes_table(changes: &[HealthChange]) -> Table {
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "at",
        "scope",
        "name",
        "change",
        "kind",
        "weight",
        "failed / attempts",
        "rate",
        "baseline",
        "peers",
        "targets",
    ]);
    for c in changes {
        let e = &c.evidence;
        table.add_row([
            c.at.to_string(),
            format!("{:?}", c.scope).to_lowercase(),
            c.name.clone(),
            format!("{} → {}", c.previous.as_str(), c.status.as_str()),
            c.kind.map_or("", |k| k.as_str()).to_string(),
            c.weight.map_or(String::new(), |w| format!("{w:.2}")),
            format!("{} / {}", e.n_failed, e.n_attempts),
            percent(e.rate),
            percent(e.baseline_rate),
            e.peer_rate.map_or(String::new(), percent),
            e.targets.iter().take(4).map(|t| t.target.as_str()).collect::<Vec<_>>().join(", "),
        ]);
    }
    table
}

fn write_snapshot(snapshot: &HealthSnapshot, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "region health at {}", snapshot.at)?;
    let mut table = Table::new();
    table.load_preset(comfy_table::presets::UTF8_BORDERS_ONLY);
    table.set_header([
        "region",
        "status",
        "weight",
        "since",
        "kind",
        "steer away",
        "rate",
        "baseline",
        "peers",
        "infra jobs",
    ]);
    for r in &snapshot.regions {
        let e = &r.evidence;
        table.add_row([
            r.region.clone(),
            r.status.as_str().to_string(),
            format!("{:.2}", r.weight),
            r.since.to_string(),
            r.kind.map_or("", |k| k.as_str()).to_string(),
            if r.steer_away { "yes" } else { "no" }.to_string(),
            percent(e.rate),
            percent(e.baseline_rate),
            e.peer_rate.map_or(String::new(), percent),
            format!("{} / {}", e.jobs.n_infra, e.jobs.n_jobs),
        ]);
    }
    writeln!(out, "{table}")?;
    for (label, flags) in [
        ("flagged targets", &snapshot.flagged_targets),
        ("quarantined workers", &snapshot.quarantined_workers),
        ("user storms", &snapshot.user_storms),
    ] {
        let names: Vec<String> = flags.iter().map(|f| format!("{} (since {})", f.name, f.since)).collect();
        writeln!(out, "{label}: {}", if names.is_empty() { "none".to_string() } else { names.join(", ") })?;
    }
    Ok(())
}

fn percent(rate: f64) -> String {
    format!("{:.1} %", rate * 100.0)
}
