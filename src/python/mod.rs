//! The only importer of `ruff_python_*`. Parses a module and translates its syntax tree into
//! owned [`ModuleFacts`]; swapping the parser means rewriting this folder only.

mod extract;
mod lines;

pub use lines::{LineCol, LineIndex};

use crate::finding::Span;
use crate::lint::model::facts::{ModuleFacts, Noqa, SyntaxError};
use ruff_python_ast::PySourceType;
use ruff_python_ast::token::TokenKind;
use ruff_text_size::Ranged;

/// Parse `source` (module `module`) and extract its facts. Never panics on bad input: syntax
/// errors become [`SyntaxError`] facts and the recovered tree is still modelled.
pub fn extract(source: &str, module: &str, is_package: bool) -> ModuleFacts {
    let parsed = ruff_python_parser::parse_unchecked_source(source, PySourceType::Python);
    let mut facts = ModuleFacts {
        module: module.to_string(),
        is_package,
        ..ModuleFacts::default()
    };
    for error in parsed.errors() {
        let range = error.range();
        facts.syntax_errors.push(SyntaxError {
            message: error.error.to_string(),
            span: Span::new(range.start().to_u32(), range.end().to_u32()),
        });
    }
    for token in parsed.tokens().iter() {
        if token.kind() == TokenKind::Comment {
            let range = token.range();
            let text = &source[range.start().to_usize()..range.end().to_usize()];
            if let Some(codes) = parse_noqa(text) {
                facts.noqa.push(Noqa {
                    line: line_number(source, range.start().to_usize()),
                    codes,
                });
            }
        }
    }
    extract::Extractor::run(&mut facts, source, parsed.syntax());
    facts
}

/// Zero-based line of a byte offset, with the same line endings as [`LineIndex`].
fn line_number(source: &str, offset: usize) -> usize {
    let bytes = &source.as_bytes()[..offset.min(source.len())];
    let mut line = 0;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'\n' => line += 1,
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => line += 1,
            _ => {}
        }
    }
    line
}

/// `# noqa` → `Some([])`; `# noqa: CD101, CD2` → `Some(["CD101", "CD2"])`. Also accepts the
/// directive after other comment text (`# type: ignore  # noqa: CD101`).
pub fn parse_noqa(comment: &str) -> Option<Vec<String>> {
    let lower = comment.to_ascii_lowercase();
    let pos = lower.find("noqa")?;
    // `noqa` must start the comment or follow a `#`.
    let before = comment[..pos].trim_end();
    if !before.ends_with('#') {
        return None;
    }
    let rest = &comment[pos + 4..];
    let rest = rest.trim_start();
    let Some(list) = rest.strip_prefix(':') else {
        return Some(Vec::new());
    };
    let codes: Vec<String> = list
        .split([',', ' ', '\t'])
        .map(str::trim)
        .take_while(|c| c.is_empty() || is_code(c))
        .filter(|c| !c.is_empty())
        .map(str::to_ascii_uppercase)
        .collect();
    if codes.is_empty() {
        Some(Vec::new())
    } else {
        Some(codes)
    }
}

/// `CD101`, `CD2`, `E501`: letters then at least one digit.
fn is_code(c: &str) -> bool {
    let letters = c.chars().take_while(char::is_ascii_alphabetic).count();
    letters > 0 && letters < c.len() && c[letters..].chars().all(|ch| ch.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::parse_noqa;

    #[test]
    fn noqa_forms() {
        assert_eq!(parse_noqa("# noqa"), Some(vec![]));
        assert_eq!(parse_noqa("# NOQA: CD101"), Some(vec!["CD101".to_string()]));
        assert_eq!(
            parse_noqa("# noqa: CD101, CD2 some reason"),
            Some(vec!["CD101".into(), "CD2".into()])
        );
        assert_eq!(
            parse_noqa("# type: ignore  # noqa: CD201"),
            Some(vec!["CD201".into()])
        );
        assert_eq!(parse_noqa("# this is not noqa"), None);
    }
}

/// Number of syntax errors in `source` (autofix refuses a result with more than it started with).
pub fn syntax_error_count(source: &str) -> usize {
    ruff_python_parser::parse_unchecked_source(source, PySourceType::Python)
        .errors()
        .len()
}

/// The shape of a call (or a bare callee such as a decorator `@app.task`) at `span` of
/// `source`, for building fixes: absolute byte offsets of the callee, the parentheses and each
/// argument in source order. `None` when the span is not one expression.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallShape {
    /// The callee (`app.task` in `app.task(bind=True)`), or the whole expression if no call.
    pub callee: Span,
    /// `(` and `)` (the span of the argument list including both), if this is a call.
    pub parens: Option<Span>,
    /// Every argument in source order: keyword name (`None` for positional, `*a`, `**kw`),
    /// span of the whole argument and span of its value.
    pub arguments: Vec<CallArgument>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallArgument {
    pub keyword: Option<String>,
    pub span: Span,
    pub value: Span,
    /// `*args` or `**kwargs`.
    pub unpacked: bool,
}

pub fn call_shape(source: &str, span: Span) -> Option<CallShape> {
    use ruff_python_ast::{ArgOrKeyword, Expr};
    use ruff_text_size::{TextRange, TextSize};
    let (start, end) = (span.start as usize, span.end as usize);
    let fragment = source.get(start..end)?;
    // Decorator spans start at `@`.
    let skip = fragment.len() - fragment.trim_start_matches(['@', ' ', '\t']).len();
    let range = TextRange::new(
        TextSize::try_from(start + skip).ok()?,
        TextSize::try_from(end).ok()?,
    );
    let parsed = ruff_python_parser::parse_parenthesized_expression_range(source, range).ok()?;
    let to_span = |r: TextRange| Span::new(r.start().to_u32(), r.end().to_u32());
    let expr = &*parsed.syntax().body;
    let Expr::Call(call) = expr else {
        return Some(CallShape {
            callee: to_span(expr.range()),
            parens: None,
            arguments: Vec::new(),
        });
    };
    let arguments = call
        .arguments
        .iter_source_order()
        .map(|a| match a {
            ArgOrKeyword::Arg(e) => CallArgument {
                keyword: None,
                span: to_span(e.range()),
                value: to_span(match e {
                    Expr::Starred(s) => s.value.range(),
                    _ => e.range(),
                }),
                unpacked: matches!(e, Expr::Starred(_)),
            },
            ArgOrKeyword::Keyword(k) => CallArgument {
                keyword: k.arg.as_ref().map(|a| a.to_string()),
                span: to_span(k.range()),
                value: to_span(k.value.range()),
                unpacked: k.arg.is_none(),
            },
        })
        .collect();
    Some(CallShape {
        callee: to_span(call.func.range()),
        parens: Some(to_span(call.arguments.range())),
        arguments,
    })
}
