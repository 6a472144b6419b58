//! docker-compose.yml cannot run without Docker, but its failscope commands can be checked:
//! each one must parse with the real binary (flags that exist, values of the right type).

use std::path::Path;
use std::process::Command;

/// The `command:` of every service, in file order, as written (flow sequences of strings,
/// which are JSON arrays).
fn compose_commands() -> Vec<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("command:"))
        .map(|array| {
            serde_json::from_str(array.trim())
                .unwrap_or_else(|e| panic!("a command must be a JSON array of strings ({e}): {array}"))
        })
        .collect()
}

#[test]
fn every_compose_command_parses_with_the_real_binary() {
    let commands = compose_commands();
    let subcommands: Vec<&str> = commands.iter().map(|c| c[0].as_str()).collect();
    assert_eq!(subcommands, ["ingest", "serve"], "the services this test knows");
    for command in &commands {
        // clap checks every flag and value before `--help`, then prints help instead of running.
        let output =
            Command::new(env!("CARGO_BIN_EXE_failscope")).args(command).arg("--help").output().expect("run failscope");
        assert!(
            output.status.success(),
            "`failscope {}` does not parse: {}",
            command.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
