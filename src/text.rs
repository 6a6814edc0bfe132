//! Small text helpers shared by messages and errors.

/// Collapse every run of whitespace (newlines included) to one space and trim the ends:
/// error messages and finding texts are one line.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::one_line;

    #[test]
    fn collapses_whitespace_to_single_spaces() {
        assert_eq!(one_line("  a\n\tb   c \r\n"), "a b c");
        assert_eq!(one_line(""), "");
        assert_eq!(one_line("é  ü"), "é ü");
    }
}
