//! A lossless INI document in the dialect Essex reads (`openstack.common.iniparser`, used by nova,
//! glance and keystone 2012.1 through their `cfg` modules).
//!
//! Reading: a line is right-stripped; an empty line ends a multi-line value; a line starting with
//! a space or a tab continues the previous value (left-stripped, joined with `\n`); `[name]` starts
//! a section (the name is taken verbatim between the brackets); `#` or `;` in column 0 starts a
//! comment; anything else is `key = value` or `key: value`, split at whichever of `=` and `:` comes
//! first, both sides stripped. Quotes are part of the value. A key may repeat: every value is kept
//! (the last wins for single-valued options).
//!
//! The document keeps every byte: [`IniDoc::to_bytes`] of an unedited document is its input, and
//! an edit touches only the lines it must (the line of the value it replaces, or the lines it
//! inserts), keeping comments, order, blank lines, line endings and unknown keys.

use std::fmt;

/// One line as read: its bytes without the `\n` (a `\r` stays part of it) and whether a `\n`
/// ended it (only the last line of a file may lack one).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    text: Vec<u8>,
    newline: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniDoc {
    lines: Vec<Line>,
    /// New lines end like the document's first line does.
    crlf: bool,
    /// New assignments are written `key = value` or `key=value`, like the document's first one.
    spaced: bool,
}

/// What a line is, by the reading rules above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind<'a> {
    Blank,
    Comment,
    Section(&'a [u8]),
    /// `value_at` is where the value starts in the line (after the separator and blanks).
    Entry {
        key: &'a [u8],
        value: &'a [u8],
        value_at: usize,
    },
    Continuation(&'a [u8]),
    /// No `=` or `:`, an empty key, or a bracket line that is not a section: iniparser raises.
    Invalid(InvalidLine),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidLine {
    NoSeparator,
    EmptyKey,
    UnclosedSection,
    EmptySectionName,
    /// An indented line with no value before it to continue.
    StrayContinuation,
    /// An assignment before the first section.
    NoSection,
}

impl fmt::Display for InvalidLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvalidLine::NoSeparator => "no `=` or `:` in an assignment",
            InvalidLine::EmptyKey => "an assignment with an empty key",
            InvalidLine::UnclosedSection => "a section header without its closing `]`",
            InvalidLine::EmptySectionName => "an empty section name",
            InvalidLine::StrayContinuation => "an indented line that continues no value",
            InvalidLine::NoSection => "an assignment before the first section",
        })
    }
}

/// Where iniparser would stop: the line number (from 1) and why. Never the line's text, which may
/// hold a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IniError {
    pub line: usize,
    pub kind: InvalidLine,
}

impl fmt::Display for IniError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

/// One assignment as Essex reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub section: String,
    pub key: String,
    /// Continuation lines joined with `\n`.
    pub value: String,
    /// The line of the key, from 1.
    pub line: usize,
}

/// Python 2's `string.whitespace`, what `strip()` removes.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn rstrip(s: &[u8]) -> &[u8] {
    let end = s.iter().rposition(|&b| !is_space(b)).map_or(0, |i| i + 1);
    &s[..end]
}

fn lstrip(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&b| !is_space(b)).unwrap_or(s.len());
    &s[start..]
}

fn strip(s: &[u8]) -> &[u8] {
    lstrip(rstrip(s))
}

fn text(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

fn classify(line: &[u8]) -> Kind<'_> {
    let r = rstrip(line);
    let Some(&first) = r.first() else { return Kind::Blank };
    match first {
        b' ' | b'\t' => Kind::Continuation(lstrip(r)),
        b'[' if r.last() != Some(&b']') || r.len() == 1 => Kind::Invalid(InvalidLine::UnclosedSection),
        b'[' if r.len() <= 2 => Kind::Invalid(InvalidLine::EmptySectionName),
        b'[' => Kind::Section(&r[1..r.len() - 1]),
        b'#' | b';' => Kind::Comment,
        _ => {
            let at = match (r.iter().position(|&b| b == b'='), r.iter().position(|&b| b == b':')) {
                (None, None) => return Kind::Invalid(InvalidLine::NoSeparator),
                (Some(e), Some(c)) => e.min(c),
                (Some(e), None) => e,
                (None, Some(c)) => c,
            };
            let key = strip(&r[..at]);
            if key.is_empty() {
                return Kind::Invalid(InvalidLine::EmptyKey);
            }
            let value = strip(&r[at + 1..]);
            let value_at = if value.is_empty() { r.len() } else { r.len() - value.len() };
            Kind::Entry { key, value, value_at }
        }
    }
}

/// The key a commented-out assignment (`#key = value`, `# key: value`) would set.
fn commented_key(line: &[u8]) -> Option<&[u8]> {
    let body = line.strip_prefix(b"#").or_else(|| line.strip_prefix(b";"))?;
    match classify(lstrip(body)) {
        Kind::Entry { key, .. } if !key.contains(&b' ') => Some(key),
        _ => None,
    }
}

impl IniDoc {
    /// Reads any bytes; never fails. [`IniDoc::assignments`] says whether Essex could read them.
    pub fn parse(bytes: &[u8]) -> IniDoc {
        let lines: Vec<Line> = bytes
            .split_inclusive(|&b| b == b'\n')
            .map(|piece| match piece.strip_suffix(b"\n") {
                Some(text) => Line { text: text.to_vec(), newline: true },
                None => Line { text: piece.to_vec(), newline: false },
            })
            .collect();
        let crlf = lines.first().is_some_and(|l| l.newline && l.text.ends_with(b"\r"));
        let spaced = lines
            .iter()
            .find_map(|l| match classify(&l.text) {
                Kind::Entry { key, .. } => Some(l.text.get(key.len()) == Some(&b' ')),
                _ => None,
            })
            .unwrap_or(true);
        IniDoc { lines, crlf, spaced }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for l in &self.lines {
            out.extend_from_slice(&l.text);
            if l.newline {
                out.push(b'\n');
            }
        }
        out
    }

    /// Every assignment in order, as Essex reads them, or the first line iniparser raises on.
    pub fn assignments(&self) -> Result<Vec<Assignment>, IniError> {
        let mut out: Vec<Assignment> = Vec::new();
        let mut section: Option<String> = None;
        // Whether the last line read was an assignment or its continuation.
        let mut open = false;
        for (i, l) in self.lines.iter().enumerate() {
            let err = |kind| IniError { line: i + 1, kind };
            match classify(&l.text) {
                Kind::Blank => open = false,
                Kind::Continuation(more) => {
                    let last = out.last_mut().filter(|_| open).ok_or(err(InvalidLine::StrayContinuation))?;
                    last.value.push('\n');
                    last.value.push_str(&text(more));
                }
                Kind::Comment => open = false,
                Kind::Section(name) => {
                    section = Some(text(name));
                    open = false;
                }
                Kind::Entry { key, value, .. } => {
                    let section = section.clone().ok_or(err(InvalidLine::NoSection))?;
                    out.push(Assignment { section, key: text(key), value: text(value), line: i + 1 });
                    open = true;
                }
                Kind::Invalid(kind) => return Err(err(kind)),
            }
        }
        Ok(out)
    }

    /// The section each line belongs to (`None` before the first header), and each line's kind.
    fn walk(&self) -> Vec<(Option<&[u8]>, Kind<'_>)> {
        let mut section = None;
        self.lines
            .iter()
            .map(|l| {
                let kind = classify(&l.text);
                if let Kind::Section(name) = kind {
                    section = Some(name);
                }
                (section, kind)
            })
            .collect()
    }

    /// Indexes of the assignments of `key` in `section` (every header of that name), with the
    /// index one past their last continuation line.
    fn find(&self, section: &str, key: &str) -> Vec<(usize, usize)> {
        let walk = self.walk();
        let mut found = Vec::new();
        for (i, (s, kind)) in walk.iter().enumerate() {
            if let Kind::Entry { key: k, .. } = kind {
                if *s == Some(section.as_bytes()) && *k == key.as_bytes() {
                    let mut end = i + 1;
                    while matches!(walk.get(end), Some((_, Kind::Continuation(_)))) {
                        end += 1;
                    }
                    found.push((i, end));
                }
            }
        }
        found
    }

    pub fn has_section(&self, section: &str) -> bool {
        self.walk().iter().any(|(_, k)| *k == Kind::Section(section.as_bytes()))
    }

    /// The value in effect (the last one), continuation lines joined with `\n`.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        self.get_all(section, key).pop()
    }

    /// Every value of `key` in `section`, in order.
    pub fn get_all(&self, section: &str, key: &str) -> Vec<String> {
        self.find(section, key).into_iter().map(|(start, end)| self.value_of(start, end)).collect()
    }

    fn value_of(&self, start: usize, end: usize) -> String {
        let mut parts = Vec::new();
        if let Kind::Entry { value, .. } = classify(&self.lines[start].text) {
            parts.push(text(value));
        }
        for l in &self.lines[start + 1..end] {
            if let Kind::Continuation(more) = classify(&l.text) {
                parts.push(text(more));
            }
        }
        parts.join("\n")
    }

    /// The keys of `section` in order of first appearance.
    pub fn keys(&self, section: &str) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for (s, kind) in self.walk() {
            if let (Some(s), Kind::Entry { key, .. }) = (s, kind) {
                let key = text(key);
                if s == section.as_bytes() && !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys
    }

    fn line(&self, text: String) -> Line {
        let mut bytes = text.into_bytes();
        if self.crlf {
            bytes.push(b'\r');
        }
        Line { text: bytes, newline: true }
    }

    /// `key = value` (the document's spacing); a multi-line value continues on indented lines.
    fn assignment_lines(&self, key: &str, value: &str) -> Vec<Line> {
        let sep = if self.spaced { " = " } else { "=" };
        let mut parts = value.split('\n');
        let first = parts.next().unwrap_or_default();
        let mut lines = vec![self.line(format!("{key}{sep}{first}"))];
        lines.extend(parts.map(|p| self.line(format!("    {p}"))));
        lines
    }

    /// Makes sure the line before `at` ends with a newline, so lines can be inserted there.
    fn terminate_before(&mut self, at: usize) {
        if let Some(prev) = at.checked_sub(1).and_then(|i| self.lines.get_mut(i)) {
            if !prev.newline {
                prev.newline = true;
                if self.crlf {
                    prev.text.push(b'\r');
                }
            }
        }
    }

    fn insert(&mut self, at: usize, lines: Vec<Line>) {
        self.terminate_before(at);
        self.lines.splice(at..at, lines);
    }

    /// Sets `key` in `section` to `value`, returning whether the document changed. The last
    /// assignment of the key is rewritten in place (its continuation lines replaced); a missing key
    /// goes right after a commented-out `#key = …` of the section, else after the section's last
    /// assignment (or its header); a missing section is added at the end.
    pub fn set(&mut self, section: &str, key: &str, value: &str) -> bool {
        if let Some(&(start, end)) = self.find(section, key).last() {
            if self.value_of(start, end) == value {
                return false;
            }
            let original = &self.lines[start].text;
            let Kind::Entry { value: old, value_at, .. } = classify(original) else { unreachable!("found an entry") };
            let mut first = if old.is_empty() { rstrip(original).to_vec() } else { original[..value_at].to_vec() };
            if old.is_empty() && self.spaced {
                first.push(b' ');
            }
            let cr = original.ends_with(b"\r");
            let newline = self.lines[end - 1].newline;
            let mut parts = value.split('\n');
            first.extend_from_slice(parts.next().unwrap_or_default().as_bytes());
            let mut texts = vec![first];
            texts.extend(parts.map(|p| format!("    {p}").into_bytes()));
            let count = texts.len();
            let lines: Vec<Line> = texts
                .into_iter()
                .enumerate()
                .map(|(i, mut text)| {
                    let ends = i + 1 < count || newline;
                    if cr && ends {
                        text.push(b'\r');
                    }
                    Line { text, newline: ends }
                })
                .collect();
            self.lines.splice(start..end, lines);
            return true;
        }
        let at = self.insertion_point(section, key);
        if let Some(at) = at {
            let lines = self.assignment_lines(key, value);
            self.insert(at, lines);
        } else {
            let mut lines = Vec::new();
            if self.lines.last().is_some_and(|l| !rstrip(&l.text).is_empty()) {
                lines.push(self.line(String::new()));
            }
            lines.push(self.line(format!("[{section}]")));
            lines.extend(self.assignment_lines(key, value));
            let end = self.lines.len();
            self.insert(end, lines);
        }
        true
    }

    /// Where a new assignment of `key` goes in `section`; `None` when there is no such section.
    fn insertion_point(&self, section: &str, key: &str) -> Option<usize> {
        let walk = self.walk();
        let in_section = |i: usize| walk[i].0 == Some(section.as_bytes());
        let mut header = None;
        let mut last_entry_end = None;
        let mut template = None;
        for (i, (_, kind)) in walk.iter().enumerate() {
            if !in_section(i) {
                continue;
            }
            match kind {
                Kind::Section(_) => header = header.or(Some(i + 1)),
                Kind::Entry { .. } | Kind::Continuation(_) => last_entry_end = Some(i + 1),
                Kind::Comment if commented_key(&self.lines[i].text) == Some(key.as_bytes()) => template = Some(i + 1),
                _ => {}
            }
        }
        template.or(last_entry_end).or(header)
    }

    /// Turns every assignment of `key` in `section` into a comment (`#` before each of its lines),
    /// preceded by `# reason` when one is given. Returns how many assignments it commented out.
    pub fn comment_out(&mut self, section: &str, key: &str, reason: Option<&str>) -> usize {
        let found = self.find(section, key);
        for &(start, end) in found.iter().rev() {
            for l in &mut self.lines[start..end] {
                l.text.insert(0, b'#');
            }
            if let Some(reason) = reason {
                let note = self.line(format!("# {reason}"));
                self.lines.insert(start, note);
            }
        }
        found.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> IniDoc {
        IniDoc::parse(s.as_bytes())
    }

    fn out(d: &IniDoc) -> String {
        String::from_utf8(d.to_bytes()).unwrap()
    }

    #[test]
    fn reading_follows_iniparser() {
        let d = doc(
            "# c\n; c\n[DEFAULT]\na = 1\nb: x=y\nc=d:e\n  # not a comment: continues c\nm = one\nm = two\n\n[s]\nk=\n  v2\n\tv3\n[ odd ]\nq = \"quoted\"\n",
        );
        let a = d.assignments().unwrap();
        let got: Vec<_> = a.iter().map(|a| (a.section.as_str(), a.key.as_str(), a.value.as_str(), a.line)).collect();
        assert_eq!(
            got,
            [
                ("DEFAULT", "a", "1", 4),
                ("DEFAULT", "b", "x=y", 5),
                ("DEFAULT", "c", "d:e\n# not a comment: continues c", 6),
                ("DEFAULT", "m", "one", 8),
                ("DEFAULT", "m", "two", 9),
                ("s", "k", "\nv2\nv3", 12),
                (" odd ", "q", "\"quoted\"", 16),
            ]
        );
        assert_eq!(d.get("DEFAULT", "m").as_deref(), Some("two"));
        assert_eq!(d.get_all("DEFAULT", "m"), ["one", "two"]);
        assert_eq!(d.keys("DEFAULT"), ["a", "b", "c", "m"]);
    }

    #[test]
    fn lines_iniparser_raises_on() {
        let cases = [
            ("[DEFAULT]\nnovalue\n", 2, InvalidLine::NoSeparator),
            ("[DEFAULT]\n = v\n", 2, InvalidLine::StrayContinuation),
            ("[DEFAULT]\n=v\n", 2, InvalidLine::EmptyKey),
            ("[DEFAULT\n", 1, InvalidLine::UnclosedSection),
            ("[]\n", 1, InvalidLine::EmptySectionName),
            ("[DEFAULT]\n# c\n  more\n", 3, InvalidLine::StrayContinuation),
            ("[DEFAULT]\na=1\n\n  more\n", 4, InvalidLine::StrayContinuation),
            ("a=1\n[DEFAULT]\n", 1, InvalidLine::NoSection),
        ];
        for (text, line, kind) in cases {
            assert_eq!(doc(text).assignments(), Err(IniError { line, kind }), "{text:?}");
        }
    }

    #[test]
    fn set_rewrites_only_the_value() {
        let mut d = doc("[DEFAULT]\n# note\nkey  =  old  \nother:x\nkey = older-but-later\n  cont\nlast = 1");
        assert!(d.set("DEFAULT", "key", "new"));
        assert_eq!(out(&d), "[DEFAULT]\n# note\nkey  =  old  \nother:x\nkey = new\nlast = 1");
        assert!(d.set("DEFAULT", "other", "y"));
        assert_eq!(out(&d), "[DEFAULT]\n# note\nkey  =  old  \nother:y\nkey = new\nlast = 1");
        assert!(!d.set("DEFAULT", "other", "y"), "an unchanged value is no edit");
        assert!(d.set("DEFAULT", "last", "2\nmore"));
        assert_eq!(out(&d), "[DEFAULT]\n# note\nkey  =  old  \nother:y\nkey = new\nlast = 2\n    more");
        assert_eq!(d.get("DEFAULT", "last").as_deref(), Some("2\nmore"));
    }

    #[test]
    fn set_inserts_after_a_template_or_the_last_assignment() {
        let mut d = doc("[DEFAULT]\na = 1\n\n# Role\n#admin_role = admin\n\n# tail comment\n[other]\nx = 1\n");
        d.set("DEFAULT", "admin_role", "Admin");
        d.set("DEFAULT", "b", "2");
        d.set("empty", "k", "v");
        d.set("other", "y", "2");
        assert_eq!(
            out(&d),
            "[DEFAULT]\na = 1\n\n# Role\n#admin_role = admin\nadmin_role = Admin\nb = 2\n\n# tail comment\n[other]\nx = 1\ny = 2\n\n[empty]\nk = v\n"
        );
        let mut d = doc("[DEFAULT]\r\nverbose=true");
        d.set("DEFAULT", "debug", "false");
        d.set("paste_deploy", "flavor", "keystone");
        assert_eq!(out(&d), "[DEFAULT]\r\nverbose=true\r\ndebug=false\r\n\r\n[paste_deploy]\r\nflavor=keystone\r\n");
    }

    #[test]
    fn comment_out_keeps_the_lines_as_comments() {
        let mut d = doc("[DEFAULT]\na = 1\n  more\nb = 2\na = 3\n");
        assert_eq!(d.comment_out("DEFAULT", "a", Some("gone in Essex")), 2);
        assert_eq!(out(&d), "[DEFAULT]\n# gone in Essex\n#a = 1\n#  more\nb = 2\n# gone in Essex\n#a = 3\n");
        assert_eq!(d.get("DEFAULT", "a"), None);
        assert!(d.assignments().is_ok());
    }

    #[test]
    fn untouched_documents_round_trip() {
        for text in ["", "\n", "no newline", "[a]\r\nk = v\r\n", "\u{feff}[x]\n\tweird\n=\n[", "a\n\n\n"] {
            assert_eq!(doc(text).to_bytes(), text.as_bytes());
        }
        let bytes = b"[DEFAULT]\nk = caf\xe9\n";
        assert_eq!(IniDoc::parse(bytes).to_bytes(), bytes);
    }

    fn lines(bytes: &[u8]) -> Vec<&[u8]> {
        bytes.split(|&b| b == b'\n').collect()
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_read_without_panic_and_round_trip(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let d = IniDoc::parse(&bytes);
            proptest::prop_assert_eq!(d.to_bytes(), bytes);
            let _ = d.assignments();
            let _ = (d.keys("DEFAULT"), d.get("DEFAULT", "k"));
        }

        #[test]
        fn edits_change_only_their_lines(
            text in "((\\[DEFAULT\\]|\\[s\\]|[a-c]{1,2} ?[=:] ?[a-z ]{0,6}|[#;][a-c =]{0,8}|[ \t][a-z]{0,4}|)\r?\n){0,24}",
            key in "[a-c]{1,2}",
            value in "[a-z0-9]{0,6}",
        ) {
            let mut d = IniDoc::parse(text.as_bytes());
            proptest::prop_assert_eq!(d.to_bytes(), text.as_bytes());
            let valid = d.assignments().is_ok();
            d.set("DEFAULT", &key, &value);
            let out = d.to_bytes();
            let (old, new) = (lines(text.as_bytes()), lines(&out));
            let prefix = old.iter().zip(&new).take_while(|(a, b)| a == b).count();
            let suffix = old[prefix..].iter().rev().zip(new[prefix..].iter().rev()).take_while(|(a, b)| a == b).count();
            let removed = old.len() - prefix - suffix;
            let continuations = old.iter().filter(|l| l.starts_with(b" ") || l.starts_with(b"\t")).count();
            proptest::prop_assert!(removed <= 1 + continuations, "removed {} lines", removed);
            proptest::prop_assert!(new.len() - prefix - suffix <= 4);
            if valid {
                proptest::prop_assert!(d.assignments().is_ok(), "an edit made a valid file invalid");
                proptest::prop_assert_eq!(d.get("DEFAULT", &key), Some(value.clone()));
            }
            let mut again = d.clone();
            proptest::prop_assert!(!again.set("DEFAULT", &key, &value) || !valid);
        }
    }
}
