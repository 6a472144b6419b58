//! One test of a test binary run in a process of its own. All the tests of a crate share one
//! binary and run as threads of one process; a test that changes what the whole process shares
//! (a signal's disposition, which tokio's handlers change for good) or that must be killed
//! mid-way runs in a child process instead: the same binary, that test alone.

use std::process::Command;

/// The variable that tells the child which test it runs alone.
const ALONE: &str = "FAILSCOPE_TEST_ALONE";

/// The name the test harness knows the test `test` of the module `module_path` by (pass
/// `module_path!()`): the module path without the crate, then the function.
pub fn test_name(module_path: &str, test: &str) -> String {
    match module_path.split_once("::") {
        Some((_, module)) => format!("{module}::{test}"),
        None => test.to_string(),
    }
}

/// A command running this test binary's test `name` alone (exactly that name, its output not
/// captured).
pub fn test_binary(name: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command.args(["--exact", name, "--nocapture", "--test-threads", "1"]);
    command
}

/// Whether the calling test is done: in the test process it runs itself again in a child
/// process (see [`test_binary`]), asserts that the child ran it and passed, and returns `true`;
/// in that child it returns `false`, and the test's body runs there.
///
/// ```ignore
/// if rerun_alone(module_path!(), "the_test") {
///     return;
/// }
/// ```
pub fn rerun_alone(module_path: &str, test: &str) -> bool {
    let name = test_name(module_path, test);
    if std::env::var(ALONE).is_ok_and(|alone| alone == name) {
        return false;
    }
    let out = test_binary(&name).env(ALONE, &name).output().expect("run the test binary again");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{name}, in a process of its own, failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("test result: ok. 1 passed"), "{name} did not run in its own process:\n{stdout}");
    true
}
