//! `diagnose`: the systematic stuck-queue checklist. [`gather`] reads the live system once,
//! bounded by a time budget; [`checks`] judge that state with pure functions; [`verdict`]
//! ranks the findings by how likely they explain stuck or lost work.
//!
//! `diagnose` composes `probe` (live data) and `lint` (the project's routes, read by the
//! command line into [`state::RouteRef`]s); neither `probe` nor `lint` imports it.

pub mod checks;
pub mod codes;
pub mod gather;
pub mod logs;
pub mod state;
pub mod verdict;

use serde::Serialize;

use crate::finding::Severity;

/// Status of one checklist step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One step of the checklist.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub title: &'static str,
    pub status: Status,
    pub evidence: Vec<String>,
    pub remediation: Option<String>,
}

/// Where a live finding was seen: the broker, and a queue or worker when it is about one; a
/// line of the project's code when the cause is written there (`--app-path`).
#[derive(Clone, Debug, Serialize)]
pub struct Location {
    pub broker: String,
    pub queue: Option<String>,
    pub worker: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
}

/// A finding about the live system. Same vocabulary as a lint finding (code, severity,
/// message, location, why/fix), with the location a broker, queue or worker.
#[derive(Clone, Debug, Serialize)]
pub struct LiveFinding {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: String,
    pub evidence: serde_json::Value,
    pub remediation: String,
    pub check: &'static str,
    pub location: Location,
    /// Rank: higher is more likely the cause of stuck or lost work.
    pub score: u32,
}

/// The most likely cause, in one sentence, with its fix.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub code: &'static str,
    pub severity: Severity,
    pub summary: String,
    pub remediation: Option<String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub broker: String,
    pub transport: String,
    pub verdict: Verdict,
    pub checks: Vec<Check>,
    pub findings: Vec<LiveFinding>,
    pub notes: Vec<String>,
    pub elapsed_ms: u64,
}

impl Report {
    /// Judge a gathered state.
    pub fn judge(state: &state::LiveState, elapsed_ms: u64) -> Report {
        let (checks, findings) = checks::run(state);
        let (verdict, findings) = verdict::rank(state, findings);
        Report {
            broker: state.broker.clone(),
            transport: state.transport.clone(),
            verdict,
            checks,
            findings,
            notes: state.notes.clone(),
            elapsed_ms,
        }
    }

    /// The broker could not be used at all.
    pub fn unreachable(&self) -> bool {
        matches!(
            self.verdict.code,
            codes::BROKER_UNREACHABLE | codes::BROKER_AUTH_FAILED
        )
    }
}
