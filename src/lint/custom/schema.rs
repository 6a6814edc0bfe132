//! The YAML schema of custom rules (`docs/custom-rules.md`). Strict: unknown keys, unknown
//! selectors and wrong types are errors that serde reports with their line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::finding::Severity;
use crate::lint::catalog::Examples;

/// Deserialize a string and convert it inside the scalar's own deserialization, so that serde
/// reports errors with the path and line of the value (not of the enclosing map).
fn from_str_with<'de, D, T>(d: D, parse: fn(&str) -> Result<T, String>) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T>(fn(&str) -> Result<T, String>);
    impl<T> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
            (self.0)(v).map_err(E::custom)
        }
    }
    d.deserialize_str(V(parse))
}

/// A rule file: `rules:` and a list of rules.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a map with a `rules` list")]
pub struct RuleFile {
    pub rules: Vec<RuleSpec>,
}

/// One custom rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a rule (a map)")]
pub struct RuleSpec {
    pub id: RuleId,
    #[serde(default)]
    pub name: Option<String>,
    pub severity: Severity,
    pub message: String,
    pub why: String,
    pub fix: String,
    #[serde(default)]
    pub references: Vec<String>,
    #[serde(rename = "match")]
    pub selector: Selector,
    pub examples: Examples,
}

/// `ACME001`: upper-case letters then digits (so `# noqa: ACME001` and prefixes work), any
/// prefix but `CD`, which is reserved for built-in rules.
#[derive(Clone, Debug)]
pub struct RuleId(pub String);

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, RuleId::parse)
    }
}

impl RuleId {
    fn parse(s: &str) -> Result<RuleId, String> {
        let letters = s.chars().take_while(char::is_ascii_uppercase).count();
        let well_formed =
            letters > 0 && letters < s.len() && s[letters..].chars().all(|c| c.is_ascii_digit());
        if !well_formed {
            return Err(format!(
                "rule id `{s}` must be upper-case letters followed by digits, e.g. `ACME001`"
            ));
        }
        if s.starts_with("CD") {
            let builtin = crate::lint::rules::catalog().is_ok_and(|c| c.get(s).is_some());
            return Err(if builtin {
                format!(
                    "duplicate rule id `{s}`: a built-in rule has this id (custom ids may use any prefix but `CD`)"
                )
            } else {
                format!("rule id `{s}` uses the prefix `CD`, which is reserved for built-in rules")
            });
        }
        Ok(RuleId(s.to_string()))
    }
}

/// What a rule matches: exactly one kind of project fact.
#[derive(Debug)]
pub enum Selector {
    Task(TaskSel),
    Call(CallSel),
    Dispatch(DispatchSel),
    Setting(SettingSel),
}

const SELECTORS: &str = "`task`, `call`, `dispatch` or `setting`";

impl<'de> Deserialize<'de> for Selector {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a map with one selector: {SELECTORS}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Selector, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(format!(
                        "empty selector, expected one of {SELECTORS}"
                    )));
                };
                let selector = match key.as_str() {
                    "task" => Selector::Task(map.next_value()?),
                    "call" => Selector::Call(map.next_value()?),
                    "dispatch" => Selector::Dispatch(map.next_value()?),
                    "setting" => Selector::Setting(map.next_value()?),
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown selector `{other}`, expected one of {SELECTORS}"
                        )));
                    }
                };
                if let Some(other) = map.next_key::<String>()? {
                    return Err(de::Error::custom(format!(
                        "one selector per rule: `{key}` and `{other}` (use another rule)"
                    )));
                }
                Ok(selector)
            }
        }
        d.deserialize_map(V)
    }
}

/// Tasks: every given field must match.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a task selector (a map)")]
pub struct TaskSel {
    /// Registered task name (`billing.tasks.*`).
    #[serde(default)]
    pub name: Option<OneOrMany<Glob>>,
    /// Module that defines the task (`billing.*`).
    #[serde(default)]
    pub module: Option<OneOrMany<Glob>>,
    /// `base=` class, qualified (`proj.tasks.IdempotentTask`).
    #[serde(default)]
    pub base: Option<OneOrMany<Glob>>,
    /// The queue the task's messages go to (task option, `task_routes`, default queue).
    #[serde(default)]
    pub queue: Option<OneOrMany<Glob>>,
    /// Effective task options (decorator, `base=` chain, `task_annotations`).
    #[serde(default)]
    pub options: BTreeMap<String, Cond>,
}

/// Calls by qualified callee.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a call selector (a map)")]
pub struct CallSel {
    pub callee: OneOrMany<Glob>,
    #[serde(default)]
    pub in_task: Option<InTask>,
    #[serde(default)]
    pub keywords: BTreeMap<String, Cond>,
    /// Positional arguments by index (0 = first).
    #[serde(default)]
    pub args: BTreeMap<usize, Cond>,
}

/// Dispatch sites (`.delay`, `.apply_async`, `.s`, `send_task`, …) of project tasks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a dispatch selector (a map)")]
pub struct DispatchSel {
    #[serde(default)]
    pub task: Option<TaskSel>,
    #[serde(default)]
    pub method: Option<OneOrMany<Method>>,
    /// Execution options written at the call site (`queue`, `countdown`, …).
    #[serde(default)]
    pub options: BTreeMap<String, Cond>,
    /// `true`: lexically inside `transaction.atomic`; `false`: outside.
    #[serde(default)]
    pub atomic: Option<bool>,
    #[serde(default)]
    pub in_task: Option<InTask>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    Delay,
    ApplyAsync,
    DelayOnCommit,
    ApplyAsyncOnCommit,
    S,
    Si,
    Signature,
    SendTask,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Delay => "delay",
            Method::ApplyAsync => "apply_async",
            Method::DelayOnCommit => "delay_on_commit",
            Method::ApplyAsyncOnCommit => "apply_async_on_commit",
            Method::S => "s",
            Method::Si => "si",
            Method::Signature => "signature",
            Method::SendTask => "send_task",
        }
    }
}

/// A Celery setting by its lowercase name, and a condition on its resolved value.
#[derive(Debug, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a setting selector (a map with `name` and `value`)"
)]
pub struct SettingSel {
    pub name: SettingName,
    pub value: Cond,
}

#[derive(Clone, Debug)]
pub struct SettingName(pub String);

impl<'de> Deserialize<'de> for SettingName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, SettingName::parse)
    }
}

impl SettingName {
    fn parse(s: &str) -> Result<SettingName, String> {
        use crate::lint::model::settings;
        if settings::is_new(s) {
            return Ok(SettingName(s.to_string()));
        }
        let lower = s.to_ascii_lowercase();
        let hint = if let Some(new) = settings::old_to_new(s) {
            format!("; write its current name `{new}`")
        } else if settings::is_new(&lower) {
            format!("; write `{lower}`")
        } else if let Some(new) = s
            .strip_prefix("CELERY_")
            .map(str::to_ascii_lowercase)
            .filter(|n| settings::is_new(n))
        {
            format!("; write `{new}`")
        } else {
            String::new()
        };
        Err(format!("unknown Celery setting `{s}`{hint}"))
    }
}

/// `in_task: true` (inside any task body), `false` (outside task bodies), or a task selector.
#[derive(Debug)]
pub enum InTask {
    Any,
    Outside,
    Task(TaskSel),
}

impl<'de> Deserialize<'de> for InTask {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = InTask;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`true`, `false` or a task selector")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<InTask, E> {
                Ok(if v { InTask::Any } else { InTask::Outside })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<InTask, A::Error> {
                TaskSel::deserialize(de::value::MapAccessDeserializer::new(map)).map(InTask::Task)
            }
        }
        d.deserialize_any(V)
    }
}

/// A scalar or a list of them (any of which may match).
#[derive(Debug)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| OneOrMany(vec![t]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let items = Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                if items.is_empty() {
                    return Err(de::Error::custom("empty list"));
                }
                Ok(OneOrMany(items))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A glob over dotted names: `*` matches any run of characters, dots included
/// (`requests.*` matches `requests.get` and `requests.api.get`).
#[derive(Clone, Debug)]
pub struct Glob {
    pub pattern: String,
    matcher: globset::GlobMatcher,
}

impl Glob {
    pub fn new(pattern: &str) -> Result<Glob, String> {
        globset::GlobBuilder::new(pattern)
            .literal_separator(false)
            .build()
            .map(|g| Glob {
                pattern: pattern.to_string(),
                matcher: g.compile_matcher(),
            })
            .map_err(|e| format!("bad glob `{pattern}`: {}", e.kind()))
    }

    pub fn is_match(&self, name: &str) -> bool {
        self.matcher.is_match(name)
    }
}

impl<'de> Deserialize<'de> for Glob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        from_str_with(d, Glob::new)
    }
}

impl OneOrMany<Glob> {
    pub fn is_match(&self, name: &str) -> bool {
        self.0.iter().any(|g| g.is_match(name))
    }
}

/// A condition on a value: `missing`, `present`, or a comparison with a literal
/// (`> 600`, `== 'json'`, `!= None`, `== true`).
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    Missing,
    Present,
    Cmp(Op, Lit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    Num(f64),
    Bool(bool),
    None,
    Str(String),
}

impl Cond {
    pub fn parse(text: &str) -> Result<Cond, String> {
        let t = text.trim();
        match t {
            "missing" => return Ok(Cond::Missing),
            "present" => return Ok(Cond::Present),
            _ => {}
        }
        let ops = [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("<", Op::Lt),
            (">", Op::Gt),
        ];
        let Some((op, rest)) = ops
            .iter()
            .find_map(|(s, op)| t.strip_prefix(s).map(|rest| (*op, rest.trim())))
        else {
            return Err(format!(
                "condition `{t}` is not `missing`, `present` or a comparison such as `> 600`"
            ));
        };
        if rest.is_empty() {
            return Err(format!("condition `{t}` has no value to compare with"));
        }
        let lit = Lit::parse(rest);
        if !matches!(op, Op::Eq | Op::Ne) && !matches!(lit, Lit::Num(_)) {
            return Err(format!(
                "condition `{t}`: `<`, `<=`, `>`, `>=` compare numbers"
            ));
        }
        Ok(Cond::Cmp(op, lit))
    }
}

impl Lit {
    fn parse(s: &str) -> Lit {
        let quoted = s.len() >= 2
            && ((s.starts_with('\'') && s.ends_with('\''))
                || (s.starts_with('"') && s.ends_with('"')));
        if quoted {
            return Lit::Str(s[1..s.len() - 1].to_string());
        }
        match s {
            "True" | "true" => Lit::Bool(true),
            "False" | "false" => Lit::Bool(false),
            "None" | "none" | "null" => Lit::None,
            _ => match s.replace('_', "").parse::<f64>() {
                Ok(n)
                    if s.chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.') =>
                {
                    Lit::Num(n)
                }
                _ => Lit::Str(s.to_string()),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Cond {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Cond;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a condition string: `missing`, `present` or a comparison such as `\"> 600\"`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Cond, E> {
                Cond::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse() {
        assert_eq!(Cond::parse("missing"), Ok(Cond::Missing));
        assert_eq!(Cond::parse(" present "), Ok(Cond::Present));
        assert_eq!(Cond::parse("> 600"), Ok(Cond::Cmp(Op::Gt, Lit::Num(600.0))));
        assert_eq!(
            Cond::parse("<=3600"),
            Ok(Cond::Cmp(Op::Le, Lit::Num(3600.0)))
        );
        assert_eq!(
            Cond::parse("== 'json'"),
            Ok(Cond::Cmp(Op::Eq, Lit::Str("json".into())))
        );
        assert_eq!(
            Cond::parse("== json"),
            Ok(Cond::Cmp(Op::Eq, Lit::Str("json".into())))
        );
        assert_eq!(Cond::parse("!= None"), Ok(Cond::Cmp(Op::Ne, Lit::None)));
        assert_eq!(
            Cond::parse("== True"),
            Ok(Cond::Cmp(Op::Eq, Lit::Bool(true)))
        );
        assert_eq!(
            Cond::parse("== -1.5"),
            Ok(Cond::Cmp(Op::Eq, Lit::Num(-1.5)))
        );
        assert!(Cond::parse("> 'x'").is_err());
        assert!(Cond::parse("==").is_err());
        assert!(Cond::parse("absent").is_err());
    }

    #[test]
    fn globs_cross_dots() {
        let g = Glob::new("requests.*").unwrap();
        assert!(g.is_match("requests.get"));
        assert!(g.is_match("requests.api.get"));
        assert!(!g.is_match("httpx.get"));
        assert!(Glob::new("billing.[").is_err());
    }
}
