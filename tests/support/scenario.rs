//! The April 2022 scenario's lake, made once per test run and shared by the browser tests:
//! the simulated fleet through the embedded broker and the real ingest into a lake under the
//! test binary's temporary directory (the previous run's is replaced).

use std::path::PathBuf;
use std::sync::OnceLock;

use failscope::scenario_run::{ScenarioRun, run_scenario};
use failscope_emit::simulate::GroundTruth;
use tokio_util::sync::CancellationToken;

/// A scenario's lake and its ground truth.
#[derive(Debug)]
pub(crate) struct ScenarioLake {
    pub(crate) lake: PathBuf,
    pub(crate) truth: GroundTruth,
}

/// The lake of `april-2022`, seed 1; the first caller makes it, the others wait for it.
pub(crate) fn april_2022() -> &'static ScenarioLake {
    static LAKE: OnceLock<ScenarioLake> = OnceLock::new();
    LAKE.get_or_init(|| {
        let lake = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scenario-april-2022/lake");
        if lake.exists() {
            std::fs::remove_dir_all(&lake).expect("remove the previous run's lake");
        }
        let run = ScenarioRun { scenario: "april-2022".into(), seed: 1, brokers: None, lake: lake.clone(), speed: 0.0 };
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let outcome = runtime.block_on(run_scenario(&run, None, &CancellationToken::new())).expect("the scenario runs");
        ScenarioLake { lake, truth: outcome.truth }
    })
}
