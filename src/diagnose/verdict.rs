//! Ranking: which finding most likely explains stuck or lost work.

use super::codes::{self, HEALTHY};
use super::state::LiveState;
use super::{LiveFinding, Verdict};
use crate::finding::Severity;

/// Score every finding, sort them (most likely cause first) and state the verdict.
pub fn rank(state: &LiveState, mut findings: Vec<LiveFinding>) -> (Verdict, Vec<LiveFinding>) {
    for f in &mut findings {
        let mut weight = codes::weight(f.code);
        // Memory pressure explains silent workers only once writes fail (>= 99 %, an alarm).
        if f.code == codes::BROKER_MEMORY_PRESSURE
            && f.evidence
                .get("critical")
                .and_then(serde_json::Value::as_bool)
                != Some(true)
        {
            weight = 85;
        }
        let mut score = weight * 100;
        // Within a code, more affected messages rank higher (log-scaled, at most +99).
        let n = f
            .evidence
            .get("ready")
            .or_else(|| f.evidence.get("count"))
            .or_else(|| f.evidence.get("messages_waiting"))
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        score += ((n as f64 + 1.0).log10() * 20.0).min(99.0) as u32;
        f.score = score;
    }
    findings.sort_by(|a, b| b.score.cmp(&a.score).then(a.code.cmp(b.code)));
    let verdict = match findings.iter().find(|f| f.severity >= Severity::Warning) {
        Some(top) => Verdict {
            code: top.code,
            severity: top.severity,
            summary: top.summary.clone(),
            remediation: Some(top.remediation.clone()),
        },
        None => {
            let workers = state.workers.as_ref().map_or(0, Vec::len);
            let waiting: u64 = state
                .queues
                .iter()
                .flatten()
                .map(|q| q.ready.unwrap_or(0))
                .sum();
            Verdict {
                code: HEALTHY,
                severity: Severity::Info,
                summary: format!(
                    "No problem found: {workers} worker(s) answer and every queue with messages ({waiting} waiting) has a consumer"
                ),
                remediation: None,
            }
        }
    };
    (verdict, findings)
}
