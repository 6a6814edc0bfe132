//! SARIF 2.1.0 for code scanning: the full rule catalog in `tool.driver.rules`, results with
//! `ruleId`/`ruleIndex`, relative URIs under `%SRCROOT%`, regions in Unicode code points and
//! stable `partialFingerprints`.

use std::io::Write;

use serde_json::{Value, json};

use crate::finding::{Finding, SourceFile, Span};
use crate::lint::LintRun;
use crate::lint::catalog::{RuleMeta, placeholders};

const INFO_URI: &str = "https://github.com/celery-doctor/celery-doctor";

fn sentence(s: &str) -> String {
    let s = s.trim_end();
    if s.ends_with(['.', '?', '!']) {
        s.to_string()
    } else {
        format!("{s}.")
    }
}

/// `Task {task} has…` → `Task {0} has…` with the placeholder order.
fn positional(template: &str) -> (String, Vec<String>) {
    let names: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for p in placeholders(template) {
            if !v.iter().any(|x| x == p) {
                v.push(p.to_string());
            }
        }
        v
    };
    let mut out = template.to_string();
    for (i, n) in names.iter().enumerate() {
        out = out.replace(&format!("{{{n}}}"), &format!("{{{i}}}"));
    }
    (out, names)
}

fn rule_descriptor(meta: &RuleMeta) -> Value {
    let mut strings = serde_json::Map::new();
    strings.insert(
        "default".into(),
        json!({ "text": sentence(&positional(&meta.message).0) }),
    );
    for (k, v) in &meta.variants {
        strings.insert(k.clone(), json!({ "text": sentence(&positional(v).0) }));
    }
    let mut markdown = meta.explanation.clone();
    if !meta.references.is_empty() {
        markdown.push_str("\n## References\n");
        for r in &meta.references {
            markdown.push_str(&format!("- <{r}>\n"));
        }
    }
    let pascal: String = meta
        .name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    json!({
        "id": meta.id,
        "name": pascal,
        "shortDescription": { "text": sentence(&meta.name.replace('-', " ")) },
        "fullDescription": { "text": sentence(&meta.summary()) },
        "messageStrings": strings,
        "help": { "text": sentence(&meta.help), "markdown": markdown },
        "helpUri": meta.doc_url(),
        "defaultConfiguration": { "level": meta.severity.sarif_level(), "enabled": meta.default },
        "properties": {
            "tags": ["celery", meta.category.clone()],
            "precision": "high",
            "problem.severity": match meta.severity {
                crate::finding::Severity::Error => "error",
                crate::finding::Severity::Warning => "warning",
                crate::finding::Severity::Info => "recommendation",
            },
        },
    })
}

fn region(file: &SourceFile, span: Span, redact: &dyn Fn(&str) -> String) -> Value {
    let s = file.lines().line_col(file.text(), span.start);
    let mut e = file.lines().line_col(file.text(), span.end);
    if e <= s {
        e = crate::python::LineCol {
            line: s.line,
            column: s.column + 1,
        };
    }
    let snippet_end = file
        .text()
        .len()
        .min(span.end as usize)
        .max(span.start as usize);
    let snippet = file
        .text()
        .get(span.start as usize..snippet_end)
        .unwrap_or("");
    json!({
        "startLine": s.line,
        "startColumn": s.column,
        "endLine": e.line,
        "endColumn": e.column,
        "snippet": { "text": redact(snippet) },
    })
}

/// One line of context around the region; `None` when there is no line to add (SARIF1008
/// requires a proper superset).
fn context_region(file: &SourceFile, span: Span, redact: &dyn Fn(&str) -> String) -> Option<Value> {
    let start = file.lines().line_of(span.start);
    let end = file.lines().line_of(span.end.max(span.start));
    let first = start.saturating_sub(1);
    let last = (end + 1).min(file.lines().line_count().saturating_sub(1));
    if first == start && last == end {
        return None;
    }
    let text: Vec<&str> = (first..=last)
        .map(|l| file.lines().line_text(file.text(), l))
        .collect();
    Some(json!({
        "startLine": first + 1,
        "endLine": last + 1,
        "snippet": { "text": redact(&text.join("\n")) },
    }))
}

fn location(file: &SourceFile, span: Span, redact: &dyn Fn(&str) -> String) -> Value {
    let mut physical = json!({
        "artifactLocation": { "uri": uri(&file.display_path()), "uriBaseId": "%SRCROOT%" },
        "region": region(file, span, redact),
    });
    if let Some(context) = context_region(file, span, redact) {
        physical["contextRegion"] = context;
    }
    json!({ "physicalLocation": physical })
}

/// A relative URI reference: percent-encode what RFC 3986 does not allow in a path.
/// `%SRCROOT%`: the working directory as a `file://` URI ending in `/`.
pub(crate) fn srcroot() -> std::io::Result<String> {
    std::env::current_dir().map(|d| {
        let mut s = d.to_string_lossy().replace('\\', "/");
        if !s.ends_with('/') {
            s.push('/');
        }
        format!("file://{}", uri(&s))
    })
}

pub(crate) fn uri(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        let c = b as char;
        if c.is_ascii_alphanumeric() || "-._~/!$&'()*+,;=:@".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn result(f: &Finding, rule_index: usize, meta: &RuleMeta) -> Value {
    let template = f
        .variant
        .as_deref()
        .and_then(|v| meta.variants.get(v))
        .unwrap_or(&meta.message);
    let (_, names) = positional(template);
    let arguments: Vec<&str> = names
        .iter()
        .map(|n| {
            f.args
                .iter()
                .find(|(k, _)| k == n)
                .map_or("", |(_, v)| v.as_str())
        })
        .collect();
    let mut r = json!({
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": f.severity.sarif_level(),
        "message": {
            "text": sentence(&f.message),
            "id": f.variant.as_deref().unwrap_or("default"),
            "arguments": arguments,
        },
        "locations": [location(&f.file, f.span, &|t: &str| f.redact(t).into_owned())],
        "partialFingerprints": { "celeryDoctorFingerprint/v2": super::fingerprint(f) },
    });
    if let Some(fix) = &f.fix {
        r["fixes"] = json!([sarif_fix(f, fix)]);
    }
    if !f.related.is_empty() {
        let related: Vec<Value> = f
            .related
            .iter()
            .enumerate()
            .map(|(i, rel)| {
                let mut loc = location(&rel.file, rel.span, &|t: &str| f.redact(t).into_owned());
                loc["id"] = json!(i);
                loc["message"] = json!({ "text": sentence(&rel.message) });
                loc
            })
            .collect();
        r["relatedLocations"] = json!(related);
    }
    r
}

/// SARIF `fix`: one artifact change (the finding's file) with a replacement per edit. An empty
/// `deletedRegion` (start = end) is an insertion.
fn sarif_fix(f: &Finding, fix: &crate::finding::Fix) -> Value {
    let lines = f.file.lines();
    let text = f.file.text();
    let replacements: Vec<Value> = fix
        .edits
        .iter()
        .map(|e| {
            let s = lines.line_col(text, e.start);
            let end = lines.line_col(text, e.end);
            json!({
                "deletedRegion": {
                    "startLine": s.line,
                    "startColumn": s.column,
                    "endLine": end.line,
                    "endColumn": end.column,
                },
                "insertedContent": { "text": f.redact(&e.content) },
            })
        })
        .collect();
    json!({
        "description": { "text": sentence(&fix.title) },
        "artifactChanges": [{
            "artifactLocation": { "uri": uri(&f.file.display_path()), "uriBaseId": "%SRCROOT%" },
            "replacements": replacements,
        }],
    })
}

pub(super) fn write(out: &mut dyn Write, run: &LintRun) -> anyhow::Result<()> {
    let catalog = crate::lint::rules::catalog()?;
    let rules: Vec<Value> = catalog
        .rules
        .iter()
        .map(|(_, m)| rule_descriptor(m))
        .collect();
    let results: Vec<Value> = run
        .findings
        .iter()
        .filter_map(|f| {
            let Some(idx) = catalog.rules.iter().position(|(r, _)| r.id == f.code) else {
                return custom_result(f, run);
            };
            Some(result(f, idx, &catalog.rules[idx].1))
        })
        .collect();
    let root = srcroot()?;
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "celery-doctor",
                    "fullName": "celery-doctor: Celery-aware static analysis",
                    "version": super::tool_version(),
                    "semanticVersion": super::tool_version(),
                    "informationUri": INFO_URI,
                    "rules": rules,
                }
            },
            "originalUriBaseIds": { "%SRCROOT%": { "uri": root } },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut doc = doc;
    if !run.custom_rules.is_empty() {
        doc["runs"][0]["tool"]["extensions"] = custom_extensions(run);
    }
    serde_json::to_writer_pretty(&mut *out, &doc).map_err(std::io::Error::from)?;
    writeln!(out)?;
    Ok(())
}

/// Custom rules: one `tool.extensions` component with their descriptors.
fn custom_extensions(run: &LintRun) -> Value {
    let rules: Vec<Value> = run
        .custom_rules
        .iter()
        .map(|m| {
            let mut d = rule_descriptor(m);
            // A user's rule has no page of its own: point to how custom rules work.
            d["helpUri"] = json!(format!("{INFO_URI}/blob/main/docs/custom-rules.md"));
            d["properties"]["tags"] = json!(["celery", "custom"]);
            d
        })
        .collect();
    json!([{
        "name": "celery-doctor-custom-rules",
        "fullName": "celery-doctor custom rules (.celery-doctor/rules)",
        "rules": rules,
    }])
}

/// A result of a custom rule: `rule` points into the extension component.
fn custom_result(f: &Finding, run: &LintRun) -> Option<Value> {
    let idx = run.custom_rules.iter().position(|m| m.id == f.code)?;
    let mut r = result(f, idx, run.custom_rules[idx]);
    if let Some(o) = r.as_object_mut() {
        // `rule` (id, index, component) replaces `ruleId`/`ruleIndex` (SARIF2004).
        o.remove("ruleIndex");
        o.remove("ruleId");
        o.insert(
            "rule".into(),
            json!({ "id": f.code, "index": idx, "toolComponent": { "index": 0 } }),
        );
    }
    Some(r)
}
