//! Log tails as real jobs print them, so a classifier can work from evidence alone: the
//! last lines of a git, docker, bitbake or pytest run that passed or failed for a reason.

use failscope_schemas::ConnectOutcome;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::fleet::{JobKind, Target};

/// A user's own failure: its log tail, exit code, failed step and cause.
pub(super) struct UserFailure {
    pub(crate) log_tail: String,
    pub(crate) exit_code: i32,
    pub(crate) failed_step: &'static str,
    pub(crate) cause: &'static str,
}

pub(super) fn user_failure(kind: JobKind, project: &str, rng: &mut ChaCha8Rng) -> UserFailure {
    let line = rng.random_range(12..480);
    match kind {
        JobKind::ContainerBuild => UserFailure {
            log_tail: format!(
                "Step 7/12 : RUN make -j8\n ---> Running in 3f2a1c9e8b7d\ngcc -O2 -c src/main.c -o build/main.o\nsrc/main.c:{line}:17: error: expected ';' before '}}' token\nmake: *** [Makefile:23: build/main.o] Error 1\nThe command '/bin/sh -c make -j8' returned a non-zero code: 2\n"
            ),
            exit_code: 2,
            failed_step: "build",
            cause: "compile_error",
        },
        JobKind::Test => UserFailure {
            log_tail: format!(
                "tests/test_api.py::test_login PASSED\ntests/test_api.py::test_upload FAILED\n\n    def test_upload(client):\n>       assert response.status_code == 201\nE       AssertionError: assert 400 == 201\n\ntests/test_api.py:{line}: AssertionError\n=========================== short test summary info ============================\nFAILED tests/test_api.py::test_upload - AssertionError: assert 400 == 201\n========================= 1 failed, 41 passed in 12.31s =========================\n"
            ),
            exit_code: 1,
            failed_step: "test",
            cause: "test_failure",
        },
        JobKind::YoctoBuild => UserFailure {
            log_tail: format!(
                "| {project}-app.c:{line}:5: error: implicit declaration of function 'gpio_set' [-Werror=implicit-function-declaration]\n| cc1: all warnings being treated as errors\nERROR: Task (/srv/oe/layers/meta-{project}/recipes-app/{project}-app/{project}-app_1.0.bb:do_compile) failed with exit code '1'\nNOTE: Tasks Summary: Attempted 4211 tasks of which 4178 didn't need to be rerun and 1 failed.\nSummary: 1 task failed:\n  /srv/oe/layers/meta-{project}/recipes-app/{project}-app/{project}-app_1.0.bb:do_compile\n"
            ),
            exit_code: 1,
            failed_step: "build",
            cause: "recipe_error",
        },
    }
}

/// A user's configuration that does not parse, as the tool that reads it says so: the CI
/// runner fails the job in its (platform-owned) setup step, but the fault is the user's.
pub(super) fn config_error(kind: JobKind, rng: &mut ChaCha8Rng) -> String {
    let line = rng.random_range(3..120);
    let pick = rng.random_range(0..2);
    match (kind, pick) {
        (JobKind::ContainerBuild, 0) => {
            format!(
                "#1 [internal] load build definition from Dockerfile\nERROR: failed to solve: dockerfile parse error on line {line}: unknown instruction: COPPY\n"
            )
        }
        (JobKind::Test, 0) => format!(
            "Loading pyproject.toml\nTOML parse error at line {line}, column 9\n  |\n{line} | python = \"^3.11\n  |         ^\ninvalid basic string\n"
        ),
        (JobKind::YoctoBuild, 0) => format!(
            "Parsing recipes...\nERROR: ParseError at /srv/oe/build/conf/local.conf:{line}: unparsed line: 'MACHINE ?= intel-corei7-64'\n"
        ),
        (JobKind::YoctoBuild, _) => format!(
            "| drivers/gpio/Kconfig:{line}: syntax error\n| drivers/gpio/Kconfig:{}: invalid statement\nERROR: Task do_configure failed with exit code '1'\n",
            line - 1
        ),
        _ => {
            format!("Reading .ci/jobs.yml\nError: yaml: line {line}: mapping values are not allowed in this context\n")
        }
    }
}

/// A platform service answering with a server error while the job checks out its sources.
pub(super) fn platform_5xx() -> String {
    "Cloning into 'src'...\nerror: RPC failed; HTTP 503 curl 22 The requested URL returned error: 503\nfatal: expected flush after ref listing\n".into()
}

/// The last lines of a job that passed.
pub(super) fn success(kind: JobKind) -> String {
    match kind {
        JobKind::ContainerBuild => {
            "Successfully built 9c1d4e2f7a3b\nSuccessfully tagged hub.foundries.example/factory/app:latest\nThe push refers to repository [hub.foundries.example/factory/app]\nlatest: digest: sha256:5f0c8e2b size: 1789\n".into()
        }
        JobKind::Test => "========================= 42 passed in 11.87s =========================\n".into(),
        JobKind::YoctoBuild => {
            "NOTE: Tasks Summary: Attempted 4211 tasks of which 4190 didn't need to be rerun and all succeeded.\nNOTE: Writing buildhistory\n".into()
        }
    }
}

/// A job killed by the kernel's OOM killer.
pub(super) fn oom_killed(kind: JobKind) -> String {
    match kind {
        JobKind::YoctoBuild => "NOTE: Running task 3120 of 4211 (webkitgtk_2.34.bb:do_compile)\n| g++: fatal error: Killed signal terminated program cc1plus\nKilled\n".into(),
        _ => "[ 71%] Building CXX object src/CMakeFiles/engine.dir/solver.cpp.o\nKilled\n".into(),
    }
}

/// A job that ran out of disk.
pub(super) fn disk_full() -> String {
    "cp: error writing '/var/lib/ci/work/build/tmp/deploy/images/rootfs.ext4': No space left on device\nERROR: Task do_image_ext4 failed\n".into()
}

/// The error text a tool prints when it cannot connect to `target`.
fn connect_error(target: &Target, outcome: ConnectOutcome, waited_ms: u64) -> String {
    let (host, port) = (&target.host, target.port);
    match outcome {
        ConnectOutcome::Refused => format!("Failed to connect to {host} port {port}: Connection refused"),
        ConnectOutcome::DnsError => format!("Could not resolve host: {host}"),
        _ => format!("Failed to connect to {host} port {port} after {waited_ms} ms: Connection timed out"),
    }
}

/// The log tail of a job whose `phase` could not connect to `target` after all retries.
pub(super) fn connect_failure(phase: &str, target: &Target, outcome: ConnectOutcome, waited_ms: u64) -> String {
    let error = connect_error(target, outcome, waited_ms);
    let host = &target.host;
    match phase {
        "checkin" => {
            format!("runner: check-in with https://{host}/ failed 3 times: {error}\nrunner: giving up on job\n")
        }
        "git_clone" => format!(
            "Cloning into '/var/lib/ci/work/src'...\nfatal: unable to access 'https://{host}/factory/lmp-manifest.git/': {error}\n"
        ),
        "container_pull" => {
            format!("Error response from daemon: Get \"https://{host}/v2/\": dial tcp: {}\n", error.to_lowercase())
        }
        "cache_fetch" => format!(
            "WARNING: Errors accessing sstate mirror file://{host}/sstate-cache: {error}\nERROR: Fetcher failure: Unable to mount {host}:/sstate-cache (retried 3 times)\nERROR: Task do_fetch failed\n"
        ),
        "artifact_upload" => {
            format!("Uploading artifacts...\nERROR: Uploading artifacts to https://{host}/ failed: {error}\n")
        }
        _ => format!("runner: cannot upload the console log to https://{host}/: {error}\n"),
    }
}
