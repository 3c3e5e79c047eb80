//! A line writer that indents as rustfmt does (4 spaces) and wraps the few constructs the
//! generator emits that can outgrow rustfmt's 100 columns.

/// rustfmt's default `max_width`.
const MAX_WIDTH: usize = 100;

/// rustfmt's default `fn_call_width`: arguments wider than this go one per line.
const FN_CALL_WIDTH: usize = 60;

/// Generated source, line by line.
#[derive(Default)]
pub(crate) struct Out {
    s: String,
    indent: usize,
}

impl Out {
    /// The source written so far.
    pub(crate) fn finish(self) -> String {
        self.s
    }

    /// One line at the current indentation (an empty `text` gives an empty line).
    pub(crate) fn line(&mut self, text: &str) {
        if !text.is_empty() {
            for _ in 0..self.indent {
                self.s.push_str("    ");
            }
            self.s.push_str(text);
        }
        self.s.push('\n');
    }

    /// A line that opens a block (`text` ends with `{`), then indents.
    pub(crate) fn open(&mut self, text: &str) {
        self.line(text);
        self.indent += 1;
    }

    /// Dedents, then closes a block with `text` (`}`, `};`).
    pub(crate) fn close(&mut self, text: &str) {
        self.indent = self.indent.saturating_sub(1);
        self.line(text);
    }

    /// Doc comment lines (`///`), one per line of `text`.
    pub(crate) fn doc(&mut self, text: &str) {
        for l in text.lines() {
            if l.is_empty() {
                self.line("///");
            } else {
                self.line(&format!("/// {l}"));
            }
        }
    }

    /// Whether `text` fits on one line at the current indentation.
    pub(crate) fn fits(&self, text: &str) -> bool {
        self.indent * 4 + text.len() <= MAX_WIDTH
    }

    /// A function signature and its opening brace, as rustfmt writes it: on one line if it
    /// fits, else one parameter per line. `head` is `pub fn name`, `ret` is ` -> T` or empty.
    pub(crate) fn open_fn(&mut self, head: &str, params: &[&str], ret: &str) {
        let one = format!("{head}({}){ret} {{", params.join(", "));
        if self.fits(&one) {
            return self.open(&one);
        }
        self.open(&format!("{head}("));
        for p in params {
            self.line(&format!("{p},"));
        }
        self.close(&format!("){ret} {{"));
        self.indent += 1;
    }

    /// A statement `name!(arg);` (a macro call with one argument), wrapped as rustfmt does
    /// when too long.
    pub(crate) fn macro_stmt(&mut self, name: &str, arg: &str) {
        let one = format!("{name}!({arg});");
        if self.fits(&one) {
            return self.line(&one);
        }
        self.open(&format!("{name}!("));
        self.line(arg);
        self.close(");");
    }

    /// A call `{pre}{f}(args){post}` as rustfmt writes it: on one line if it fits and the
    /// arguments are at most 60 columns (or there is one argument), else one argument per
    /// line with a trailing comma.
    pub(crate) fn call(&mut self, pre: &str, f: &str, args: &[&str], post: &str) {
        let joined = args.join(", ");
        let one = format!("{pre}{f}({joined}){post}");
        if self.fits(&one) && (args.len() < 2 || joined.len() <= FN_CALL_WIDTH) {
            return self.line(&one);
        }
        self.open(&format!("{pre}{f}("));
        for a in args {
            self.line(&format!("{a},"));
        }
        self.close(&format!("){post}"));
    }

    /// `{lhs} = {rhs};`, broken after `=` when too long.
    pub(crate) fn assign(&mut self, lhs: &str, rhs: &str) {
        let one = format!("{lhs} = {rhs};");
        if self.fits(&one) {
            return self.line(&one);
        }
        self.line(&format!("{lhs} ="));
        self.indent += 1;
        self.line(&format!("{rhs};"));
        self.indent -= 1;
    }
}
