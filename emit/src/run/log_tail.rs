//! A bounded tail of a job's combined output: the last bytes are kept, the rest forgotten.

use std::collections::VecDeque;

/// The last `max_bytes` bytes written, turned into the last whole lines on request.
#[derive(Debug)]
pub(super) struct LogTail {
    bytes: VecDeque<u8>,
    max_bytes: usize,
}

impl LogTail {
    pub(super) fn new(max_bytes: usize) -> Self {
        LogTail { bytes: VecDeque::with_capacity(max_bytes.min(64 * 1024)), max_bytes }
    }

    pub(super) fn push(&mut self, chunk: &[u8]) {
        let chunk = &chunk[chunk.len().saturating_sub(self.max_bytes)..];
        let overflow = (self.bytes.len() + chunk.len()).saturating_sub(self.max_bytes);
        self.bytes.drain(..overflow);
        self.bytes.extend(chunk);
    }

    /// The tail as text of at most `max_chars` characters, starting at a line start when the
    /// output was cut, or `None` if the job printed nothing.
    pub(super) fn text(&self, max_chars: usize) -> Option<String> {
        let (front, back) = self.bytes.as_slices();
        let text = String::from_utf8_lossy(&[front, back].concat()).into_owned();
        let n_chars = text.chars().count();
        let was_cut = self.bytes.len() == self.max_bytes || n_chars > max_chars;
        let start = text.char_indices().nth(n_chars.saturating_sub(max_chars)).map_or(0, |(i, _)| i);
        let mut tail = &text[start..];
        if was_cut && let Some(newline) = tail.find('\n').filter(|&i| i + 1 < tail.len()) {
            tail = &tail[newline + 1..];
        }
        if tail.is_empty() { None } else { Some(tail.to_string()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_whole_lines() {
        let cases: [(&[&str], usize, usize, Option<&str>); 5] = [
            (&[], 100, 100, None),
            (&["a\nb\n"], 100, 100, Some("a\nb\n")),
            (&["line one\n", "line two\n", "line three\n"], 100, 15, Some("line three\n")),
            (&["0123456789\n", "abc\n"], 8, 100, Some("abc\n")),
            (&["héllo wörld\n"], 100, 6, Some("wörld\n")),
        ];
        for (chunks, max_bytes, max_chars, want) in cases {
            let mut tail = LogTail::new(max_bytes);
            for chunk in chunks {
                tail.push(chunk.as_bytes());
            }
            assert_eq!(tail.text(max_chars).as_deref(), want, "{chunks:?} {max_bytes} {max_chars}");
        }
    }
}
