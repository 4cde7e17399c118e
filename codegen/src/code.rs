//! The buffer every piece of WGSL is written into.
//!
//! `write!` and `writeln!` on a [`Code`] return nothing: its inherent `write_fmt` appends the
//! text and keeps the first formatting error (a `Display` impl that failed), which
//! [`Code::finish`] hands back. So no call site can drop an error, and none can panic on one.

use crate::CodegenError;
use std::fmt;

/// WGSL text being built, with the first formatting error met while building it.
#[derive(Clone, Debug, Default)]
pub struct Code {
    text: String,
    error: Option<fmt::Error>,
}

impl Code {
    /// An empty buffer.
    pub fn new() -> Self {
        Code::default()
    }

    /// Appends formatted text: what `write!(code, ...)` and `writeln!(code, ...)` call.
    pub fn write_fmt(&mut self, args: fmt::Arguments<'_>) {
        if let Err(e) = fmt::Write::write_fmt(&mut self.text, args) {
            self.error.get_or_insert(e);
        }
    }

    /// Appends text as it is.
    pub fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
    }

    /// Appends another buffer's text, keeping the first error of the two.
    pub fn append(&mut self, other: Code) {
        self.text.push_str(&other.text);
        if let Some(e) = other.error {
            self.error.get_or_insert(e);
        }
    }

    /// The text, or the first formatting error met while writing it.
    pub fn finish(self) -> Result<String, CodegenError> {
        match self.error {
            None => Ok(self.text),
            Some(e) => Err(CodegenError::Format(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value whose formatting fails.
    struct Broken;

    impl fmt::Display for Broken {
        fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
            Err(fmt::Error)
        }
    }

    #[test]
    fn text_comes_back_in_order() {
        let mut c = Code::new();
        writeln!(c, "fn f() {{");
        write!(c, "  return {};", 1);
        c.push_str("\n");
        let mut tail = Code::new();
        writeln!(tail, "}}");
        c.append(tail);
        assert_eq!(c.finish().unwrap(), "fn f() {\n  return 1;\n}\n");
    }

    #[test]
    fn a_formatting_error_is_kept_until_finish() {
        let mut c = Code::new();
        writeln!(c, "a {}", Broken);
        writeln!(c, "b");
        assert_eq!(c.finish(), Err(CodegenError::Format(fmt::Error)));
        let mut outer = Code::new();
        let mut inner = Code::new();
        write!(inner, "{Broken}");
        outer.append(inner);
        assert!(outer.finish().is_err());
    }
}
