//! Capturing a script's stdout and stderr, each on its own, with bounded memory.
//!
//! Streams are kept apart (not interleaved) so the history can show each as it
//! was written. Each stream keeps its first `limit` bytes and its last `limit`
//! bytes and counts what was dropped in between: the start says what the script
//! set out to do, the end says how it failed. Reading never stops early on its
//! own, so a script printing gigabytes never blocks on a full pipe.

use std::collections::VecDeque;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio::time::Instant;

/// Default bytes kept at each end of each stream (64 KiB).
pub const DEFAULT_CAPTURE_LIMIT: usize = 64 * 1024;

/// What was kept of one output stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapturedStream {
    head: Vec<u8>,
    tail: Vec<u8>,
    dropped: u64,
    unfinished: bool,
}

impl CapturedStream {
    /// The first bytes written (all of them when nothing was dropped).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// The last bytes written after the head; empty when the head held everything.
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    /// Bytes dropped between head and tail.
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped
    }

    /// Bytes the script wrote to this stream in total (as far as it was read).
    pub fn total_bytes(&self) -> u64 {
        // usize always fits in u64 on the platforms opm runs on.
        self.head.len() as u64 + self.dropped + self.tail.len() as u64
    }

    /// True when reading stopped before end of file (normally because a process
    /// that left the script's process group kept the pipe open), so later
    /// output is missing.
    pub fn is_unfinished(&self) -> bool {
        self.unfinished
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.total_bytes() == 0
    }

    /// The stream as text for the history: lossy UTF-8, with a marker line
    /// where bytes were dropped and at the end when reading stopped early.
    pub fn to_text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[opm: {} bytes dropped]\n", self.dropped));
        }
        text.push_str(&String::from_utf8_lossy(&self.tail));
        if self.unfinished {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("[opm: stopped reading before the stream ended; a process that left the script's group may hold it open]\n");
        }
        text
    }

    /// The stream as text in at most `budget` bytes of what it wrote
    /// (markers aside): the first and the last of what was kept, and one
    /// marker saying exactly how many bytes of `name` were left out.
    fn text_within(&self, budget: usize, name: &str) -> String {
        let kept = self.head.len() + self.tail.len();
        let (first, last) = if kept <= budget {
            (self.head.len(), self.tail.len())
        } else {
            // Half from each end. When bytes were dropped the head and the
            // tail are both full (`limit` each, more than half of any
            // budget below `kept`), so both cuts fall inside them and the
            // bytes between are exactly the ones left out.
            let first = (budget / 2).min(self.head.len());
            (first, budget - first)
        };
        let mut bytes = self.head.clone();
        bytes.extend_from_slice(&self.tail);
        let left_out = self.total_bytes() - (first + last) as u64;
        let mut text = String::from_utf8_lossy(&bytes[..first]).into_owned();
        if left_out > 0 {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!(
                "[opm: {left_out} bytes of {name} left out of {} written]\n",
                self.total_bytes()
            ));
        }
        text.push_str(&String::from_utf8_lossy(&bytes[bytes.len() - last..]));
        if self.unfinished {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("[opm: stopped reading before the stream ended; a process that left the script's group may hold it open]\n");
        }
        text
    }

    /// The last `lines` lines of what was kept, for error messages.
    pub fn last_lines(&self, lines: usize) -> String {
        let text = self.to_text();
        let trimmed = text.trim_end_matches('\n');
        let start = trimmed
            .rmatch_indices('\n')
            .nth(lines.saturating_sub(1))
            .map_or(0, |(index, _)| index + 1);
        if lines == 0 {
            String::new()
        } else {
            trimmed[start..].to_owned()
        }
    }
}

/// Both output streams of one run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CapturedOutput {
    /// What the script wrote to stdout.
    pub stdout: CapturedStream,
    /// What the script wrote to stderr.
    pub stderr: CapturedStream,
}

impl CapturedOutput {
    /// Both streams as text for the history, stdout first, in at most
    /// `max` bytes of what they wrote (markers aside), so the history keeps
    /// each stream's head and tail instead of cutting their concatenation
    /// again. Each stream gets half; one that needs less leaves the rest
    /// to the other. Each cut says exactly how many bytes it left out.
    pub fn to_text(&self, max: usize) -> String {
        let stdout = self.stdout.head.len() + self.stdout.tail.len();
        let stderr = self.stderr.head.len() + self.stderr.tail.len();
        let half = max / 2;
        let stdout_budget = if stdout + stderr <= max || stdout < half {
            stdout
        } else if stderr < half {
            max - stderr
        } else {
            half
        };
        let stderr_budget = max.saturating_sub(stdout_budget);
        let mut text = self.stdout.text_within(stdout_budget, "stdout");
        text.push_str(&self.stderr.text_within(stderr_budget, "stderr"));
        text
    }

    /// Bytes the script wrote to both streams together.
    pub fn total_bytes(&self) -> u64 {
        self.stdout.total_bytes() + self.stderr.total_bytes()
    }
}

/// The head-and-tail buffer behind a [`CapturedStream`].
#[derive(Debug)]
pub(crate) struct CaptureBuffer {
    limit: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

impl CaptureBuffer {
    /// An empty buffer keeping `limit` bytes at each end.
    pub(crate) fn new(limit: usize) -> CaptureBuffer {
        CaptureBuffer {
            limit,
            head: Vec::new(),
            tail: VecDeque::new(),
            dropped: 0,
        }
    }

    /// Takes the next bytes of the stream.
    pub(crate) fn push(&mut self, mut bytes: &[u8]) {
        let head_room = self.limit - self.head.len();
        let into_head = head_room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        if bytes.len() > self.limit {
            let skip = bytes.len() - self.limit;
            self.dropped += skip as u64;
            bytes = &bytes[skip..];
        }
        self.tail.extend(bytes);
        if self.tail.len() > self.limit {
            let excess = self.tail.len() - self.limit;
            self.tail.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    /// The captured stream; `unfinished` when reading stopped before end of file.
    pub(crate) fn finish(self, unfinished: bool) -> CapturedStream {
        CapturedStream {
            head: self.head,
            tail: self.tail.into(),
            dropped: self.dropped,
            unfinished,
        }
    }
}

/// Reads `reader` to end of file, or until the deadline sent on `stop` passes.
///
/// The deadline exists because end of file may never come: a process that left
/// the script's process group (and so survived its cleanup) can hold the pipe.
pub(crate) async fn capture<R: AsyncRead + Unpin>(
    mut reader: R,
    limit: usize,
    mut stop: watch::Receiver<Option<Instant>>,
) -> CapturedStream {
    let mut buffer = CaptureBuffer::new(limit);
    let mut chunk = vec![0_u8; 16 * 1024];
    loop {
        tokio::select! {
            // The deadline first, so an endless writer cannot starve it.
            biased;
            () = reached(&mut stop) => return buffer.finish(true),
            read = reader.read(&mut chunk) => match read {
                Ok(0) => return buffer.finish(false),
                Ok(count) => buffer.push(&chunk[..count]),
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return buffer.finish(true),
            },
        }
    }
}

/// Completes once a deadline was sent and has passed; never if none is sent.
async fn reached(stop: &mut watch::Receiver<Option<Instant>>) {
    loop {
        let deadline = *stop.borrow_and_update();
        if let Some(deadline) = deadline {
            tokio::time::sleep_until(deadline).await;
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn captured(limit: usize, chunks: &[&[u8]]) -> CapturedStream {
        let mut buffer = CaptureBuffer::new(limit);
        for chunk in chunks {
            buffer.push(chunk);
        }
        buffer.finish(false)
    }

    #[test]
    fn small_output_is_kept_whole_in_the_head() {
        let stream = captured(8, &[b"abc", b"def"]);
        assert_eq!(stream.head(), b"abcdef");
        assert_eq!(stream.tail(), b"");
        assert_eq!(stream.dropped_bytes(), 0);
        assert_eq!(stream.to_text(), "abcdef");
    }

    #[test]
    fn large_output_keeps_head_and_tail_and_counts_the_rest() {
        let stream = captured(4, &[b"0123", b"45", b"6789ab", b"cd"]);
        assert_eq!(stream.head(), b"0123");
        assert_eq!(stream.tail(), b"abcd");
        assert_eq!(stream.dropped_bytes(), 6);
        assert_eq!(stream.total_bytes(), 14);
        assert_eq!(stream.to_text(), "0123\n[opm: 6 bytes dropped]\nabcd");
    }

    #[test]
    fn one_huge_chunk_is_split_the_same_way() {
        let stream = captured(3, &[b"abcdefghij"]);
        assert_eq!(stream.head(), b"abc");
        assert_eq!(stream.tail(), b"hij");
        assert_eq!(stream.dropped_bytes(), 4);
    }

    #[test]
    fn chunking_does_not_change_the_result() {
        let data: Vec<u8> = (0..=255).cycle().take(5000).collect();
        let whole = captured(100, &[&data]);
        let bytewise: Vec<&[u8]> = data.chunks(7).collect();
        assert_eq!(captured(100, &bytewise), whole);
        assert_eq!(whole.head(), &data[..100]);
        assert_eq!(whole.tail(), &data[4900..]);
    }

    #[test]
    fn last_lines_takes_the_end_of_the_text() {
        let stream = captured(1024, &[b"one\ntwo\nthree\n"]);
        assert_eq!(stream.last_lines(2), "two\nthree");
        assert_eq!(stream.last_lines(10), "one\ntwo\nthree");
        assert_eq!(stream.last_lines(0), "");
    }

    #[test]
    fn unfinished_streams_say_so() {
        let mut buffer = CaptureBuffer::new(16);
        buffer.push(b"partial");
        let stream = buffer.finish(true);
        assert!(stream.is_unfinished());
        assert!(
            stream
                .to_text()
                .starts_with("partial\n[opm: stopped reading")
        );
    }

    #[tokio::test]
    async fn capture_reads_to_end_of_file() {
        let (_keep, receiver) = watch::channel(None);
        let stream = capture(&b"hello"[..], 16, receiver).await;
        assert_eq!(stream.head(), b"hello");
        assert!(!stream.is_unfinished());
    }

    #[tokio::test]
    async fn capture_stops_at_the_deadline_when_the_pipe_stays_open() {
        let (writer, reader) = tokio::io::duplex(64);
        let (sender, receiver) = watch::channel(None);
        let reading = tokio::spawn(capture(reader, 16, receiver));
        sender.send(Some(Instant::now())).unwrap();
        let stream = reading.await.unwrap();
        assert!(stream.is_unfinished());
        drop(writer);
    }
}
