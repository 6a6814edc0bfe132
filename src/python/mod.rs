//! The only importer of `ruff_python_*`. Parses a module and translates its syntax tree into
//! owned [`ModuleFacts`]; swapping the parser means rewriting this folder only.

mod calls;
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
    extract_with(source, module, is_package, false)
}

/// [`extract`], and with `record_calls` also every nameable call (`ModuleFacts::any_calls`)
/// for custom rules.
pub fn extract_with(
    source: &str,
    module: &str,
    is_package: bool,
    record_calls: bool,
) -> ModuleFacts {
    let timed = phase_timings::enabled();
    let t0 = timed.then(std::time::Instant::now);
    let parsed = ruff_python_parser::parse_unchecked_source(source, PySourceType::Python);
    let t1 = timed.then(std::time::Instant::now);
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
    if record_calls {
        calls::collect(&mut facts, parsed.syntax());
    }
    let t2 = timed.then(std::time::Instant::now);
    drop(parsed);
    if let (Some(t0), Some(t1), Some(t2)) = (t0, t1, t2) {
        phase_timings::add(t1 - t0, t2 - t1, t2.elapsed());
    }
    facts
}

/// CPU time spent per phase of [`extract_with`], summed over all threads, for
/// `CELERY_DOCTOR_TIMINGS=1` (parse vs. fact extraction vs. dropping the tree).
pub mod phase_timings {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    static ENABLED: LazyLock<bool> =
        LazyLock::new(|| std::env::var_os("CELERY_DOCTOR_TIMINGS").is_some());
    static PARSE: AtomicU64 = AtomicU64::new(0);
    static EXTRACT: AtomicU64 = AtomicU64::new(0);
    static DROP: AtomicU64 = AtomicU64::new(0);

    pub fn enabled() -> bool {
        *ENABLED
    }

    pub(super) fn add(parse: Duration, extract: Duration, drop: Duration) {
        for (a, d) in [(&PARSE, parse), (&EXTRACT, extract), (&DROP, drop)] {
            a.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
        }
    }

    /// `parse 61ms, extract 48ms, drop 9ms (CPU, all threads)`.
    pub fn summary() -> String {
        let ms = |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed));
        format!(
            "parse {:?}, extract {:?}, drop tree {:?} (CPU, all threads)",
            ms(&PARSE),
            ms(&EXTRACT),
            ms(&DROP)
        )
    }
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

/// What a fix needs to know about a function definition: where its body's code starts and
/// the defaults of its parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FunctionShape {
    /// Indentation of the `def` line.
    pub def_indent: String,
    /// Indentation of the body; empty when the body is on the `def` line.
    pub body_indent: String,
    /// Start of the line of the first statement after the docstring, if any.
    pub first_statement_line: Option<u32>,
    /// (parameter name, span of its default value).
    pub defaults: Vec<(String, Span)>,
}

/// The function whose name is at `name` in `source` (re-parsed; for fixes only).
pub fn function_shape(source: &str, name: Span) -> Option<FunctionShape> {
    use ruff_python_ast::visitor::{Visitor, walk_stmt};
    use ruff_python_ast::{Expr, Stmt, StmtFunctionDef};

    struct Find<'a> {
        name: Span,
        found: Option<&'a StmtFunctionDef>,
    }
    impl<'a> Visitor<'a> for Find<'a> {
        fn visit_stmt(&mut self, stmt: &'a Stmt) {
            if self.found.is_some() {
                return;
            }
            if let Stmt::FunctionDef(f) = stmt
                && f.name.range().start().to_u32() == self.name.start
            {
                self.found = Some(f);
                return;
            }
            walk_stmt(self, stmt);
        }
        fn visit_expr(&mut self, _: &'a Expr) {}
    }

    let parsed = ruff_python_parser::parse_unchecked_source(source, PySourceType::Python);
    let mut find = Find { name, found: None };
    for stmt in &parsed.syntax().body {
        find.visit_stmt(stmt);
    }
    let f = find.found?;
    let line_start = |at: u32| {
        source[..at as usize]
            .rfind(['\n', '\r'])
            .map_or(0, |i| i + 1) as u32
    };
    let indent_at = |at: u32| {
        let start = line_start(at);
        let text = &source[start as usize..at as usize];
        text.chars()
            .all(|c| c == ' ' || c == '\t')
            .then(|| text.to_string())
    };
    let def_indent = indent_at(f.range().start().to_u32()).unwrap_or_default();
    let first = f.body.first()?;
    let body_indent = indent_at(first.range().start().to_u32()).unwrap_or_default();
    let is_docstring = matches!(first, Stmt::Expr(e) if e.value.is_string_literal_expr());
    let after_doc = if is_docstring {
        f.body.get(1)
    } else {
        Some(first)
    };
    let first_statement_line = after_doc
        .filter(|s| indent_at(s.range().start().to_u32()).is_some())
        .map(|s| line_start(s.range().start().to_u32()));
    let defaults = f
        .parameters
        .iter_non_variadic_params()
        .filter_map(|p| {
            let d = p.default.as_deref()?;
            Some((
                p.parameter.name.to_string(),
                Span::new(d.range().start().to_u32(), d.range().end().to_u32()),
            ))
        })
        .collect();
    Some(FunctionShape {
        def_indent,
        body_indent,
        first_statement_line,
        defaults,
    })
}

/// The shape of a dict display (`{"a": 1, **b}`) at `span` of `source`, for building fixes.
/// `None` when the span is not one dict display.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DictShape {
    /// `{` and `}` (the whole display).
    pub braces: Span,
    /// Every item in source order.
    pub items: Vec<DictItemShape>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DictItemShape {
    /// The key's value when it is a plain string literal.
    pub key: Option<String>,
    /// Span of the key; `None` for `**mapping`.
    pub key_span: Option<Span>,
    /// Span of the value (the mapping for `**mapping`).
    pub value: Span,
}

pub fn dict_shape(source: &str, span: Span) -> Option<DictShape> {
    use ruff_python_ast::Expr;
    use ruff_text_size::{TextRange, TextSize};
    let range = TextRange::new(
        TextSize::try_from(span.start as usize).ok()?,
        TextSize::try_from(span.end as usize).ok()?,
    );
    source.get(span.start as usize..span.end as usize)?;
    let parsed = ruff_python_parser::parse_parenthesized_expression_range(source, range).ok()?;
    let to_span = |r: TextRange| Span::new(r.start().to_u32(), r.end().to_u32());
    let Expr::Dict(dict) = &*parsed.syntax().body else {
        return None;
    };
    // A parenthesised display (`({...})`) is not the span itself.
    if dict.range() != range {
        return None;
    }
    let items = dict
        .items
        .iter()
        .map(|item| DictItemShape {
            key: match &item.key {
                Some(Expr::StringLiteral(s)) => Some(s.value.to_str().to_string()),
                _ => None,
            },
            key_span: item.key.as_ref().map(|k| to_span(k.range())),
            value: to_span(item.value.range()),
        })
        .collect();
    Some(DictShape {
        braces: to_span(dict.range()),
        items,
    })
}
