//! What a stage printed, as its history and step records keep it: the text
//! kept, and the count of every byte printed. The two differ when a script
//! floods its streams: the text keeps each stream's head and tail, the
//! count still says how much there was (the history's `output_bytes`).

use opm_native::script::CapturedOutput;

/// Printed output: the text kept and every byte printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    text: String,
    printed: u64,
}

impl Output {
    /// Nothing printed yet.
    pub fn new() -> Output {
        Output::default()
    }

    /// Adds text kept whole: opm's own lines, a tool's message.
    pub fn push_str(&mut self, text: &str) {
        self.text.push_str(text);
        self.printed += byte_count(text);
    }

    /// Adds a script's two streams: their text in at most `max` bytes
    /// (see [`CapturedOutput::to_text`]), and every byte they carried.
    pub fn push_script(&mut self, captured: &CapturedOutput, max: usize) {
        self.text.push_str(&captured.to_text(max));
        self.printed += captured.total_bytes();
    }

    /// Adds `other` after what is here.
    pub fn append(&mut self, other: &Output) {
        self.text.push_str(&other.text);
        self.printed += other.printed;
    }

    /// The text kept.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Every byte printed, of which [`text`](Output::text) holds all or part.
    pub fn printed(&self) -> u64 {
        self.printed
    }

    /// The text kept and every byte printed.
    pub fn into_parts(self) -> (String, u64) {
        (self.text, self.printed)
    }
}

fn byte_count(text: &str) -> u64 {
    // usize always fits in u64 on the platforms opm runs on.
    text.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_kept_whole_counts_its_own_bytes() {
        let mut output = Output::new();
        output.push_str("== run api-post-install\n");
        let mut step = Output::new();
        step.push_str("héllo\n");
        output.append(&step);
        assert_eq!(output.text(), "== run api-post-install\nhéllo\n");
        assert_eq!(output.printed(), 31);
    }

    #[test]
    fn an_empty_script_adds_nothing() {
        let mut output = Output::new();
        output.push_script(&CapturedOutput::default(), 1024);
        assert_eq!(output.into_parts(), (String::new(), 0));
    }
}
