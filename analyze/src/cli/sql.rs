//! `failscope sql`: one command (`-c`), a file (`-f`) or an interactive shell with history
//! and multi-line input (a statement ends with `;`).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use datafusion::sql::parser::DFParser;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;
use tokio_util::sync::CancellationToken;

use super::SqlArgs;
use crate::Analyzer;
use crate::output::{Format, write_batches};

const HELP: &str = "End statements with ';'. \\d lists tables and views, \\q quits.";

/// Runs `failscope sql`. With `-c` or `-f` the first failing statement ends the run with exit
/// code 1; in the shell an error is printed and the shell goes on. When `shutdown` fires, the
/// running statement is cancelled and the run ends with an error, the shell included.
pub async fn run_sql(args: SqlArgs, shutdown: CancellationToken) -> anyhow::Result<ExitCode> {
    tokio::select! {
        result = sql(args) => result,
        () = shutdown.cancelled() => Err(super::interrupted()),
    }
}

async fn sql(args: SqlArgs) -> anyhow::Result<ExitCode> {
    let analyzer = Analyzer::open(&args.lake.catalog_config()?).await.context("cannot open the lake")?;
    let script = match (&args.command, &args.file) {
        (Some(command), _) => Some(command.clone()),
        (None, Some(file)) => {
            Some(std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?)
        }
        (None, None) => None,
    };
    let Some(script) = script else {
        shell(&analyzer, &args).await?;
        return Ok(ExitCode::SUCCESS);
    };
    for statement in split_statements(&script)? {
        if let Err(e) = run_statement(&analyzer, &statement, args.output.format).await {
            eprintln!("error: {e:#}");
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A script's statements, each to be run on its own (the guard takes one at a time).
fn split_statements(script: &str) -> anyhow::Result<Vec<String>> {
    let statements = DFParser::parse_sql(script).context("cannot parse the SQL")?;
    Ok(statements.iter().map(ToString::to_string).collect())
}

async fn run_statement(analyzer: &Analyzer, sql: &str, format: Format) -> anyhow::Result<()> {
    tracing::debug!(sql, "running statement");
    let df = analyzer.sql(sql).await?;
    let result = analyzer.collect(df).await?;
    let mut stdout = std::io::stdout().lock();
    write_batches(format, &result.schema, &result.batches, &mut stdout)?;
    stdout.flush()?;
    Ok(())
}

async fn shell(analyzer: &Analyzer, args: &SqlArgs) -> anyhow::Result<()> {
    let mut editor = DefaultEditor::new().context("cannot start the line editor")?;
    // A missing history file is normal on first use.
    let _ = editor.load_history(&args.history);
    println!("failscope sql over {}. {HELP}", args.lake.lake.path.display());
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "failscope> " } else { "       ..> " };
        // The line editor blocks on the terminal; keep it off the async workers.
        let (returned, line) = tokio::task::spawn_blocking(move || {
            let line = editor.readline(prompt);
            (editor, line)
        })
        .await
        .context("line editor task failed")?;
        editor = returned;
        let line = match line {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("cannot read input"),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            match trimmed {
                "\\q" => break,
                "\\d" => report(list_tables(analyzer, args.output.format).await),
                _ => println!("{HELP}"),
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if trimmed.ends_with(';') {
            let statement = std::mem::take(&mut buffer);
            let _ = editor.add_history_entry(statement.trim());
            report(run_statement(analyzer, &statement, args.output.format).await);
        }
    }
    editor.save_history(&args.history).with_context(|| format!("cannot save history to {}", args.history.display()))
}

/// `\d`: the named query `tables` of `queries/`.
async fn list_tables(analyzer: &Analyzer, format: Format) -> anyhow::Result<()> {
    let sql = analyzer.query("tables")?.sql.clone();
    run_statement(analyzer, &sql, format).await
}

fn report(result: anyhow::Result<()>) {
    if let Err(e) = result {
        eprintln!("error: {e:#}");
    }
}
