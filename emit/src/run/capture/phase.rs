//! The phase of captured connects: the CI step they belong to, named by `FAILSCOPE_PHASE` in
//! the environment of the process that connects (read by the preload library at its start,
//! `capture/src/load.rs`) or given to the whole run with `--phase`. Both sides keep the same
//! form, so a phase reads the same whichever way it came.

/// The environment variable, read by the preload library and by `failscope run --phase`.
pub(crate) const PHASE_ENV: &str = "FAILSCOPE_PHASE";
/// The longest phase kept, in bytes: `MAX_PHASE` of the preload library.
const MAX_PHASE: usize = 63;

/// `raw` as the preload library records it: cut to `MAX_PHASE` bytes, anything but printable
/// ASCII (spaces included) replaced by `?`; `None` when empty.
pub(crate) fn normalized(raw: &str) -> Option<String> {
    let phase: String =
        raw.bytes().take(MAX_PHASE).map(|byte| if byte.is_ascii_graphic() { char::from(byte) } else { '?' }).collect();
    (!phase.is_empty()).then_some(phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_keep_the_library_form() {
        let long = "a".repeat(70);
        let cases = [
            ("checkout", Some("checkout".to_string())),
            ("", None),
            ("unit tests", Some("unit?tests".into())),
            ("é", Some("??".into())),
            (long.as_str(), Some("a".repeat(63))),
        ];
        for (raw, want) in cases {
            assert_eq!(normalized(raw), want, "{raw:?}");
        }
    }
}
