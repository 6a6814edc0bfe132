//! celery-doctor: find Celery anti-patterns in Python code (`lint`), and probe live brokers
//! and workers (`inspect`, `queues`, `peek`).

pub mod cli;
pub mod color;
pub mod config;
pub mod diagnose;
pub mod finding;
pub mod lint;
pub mod probe;
pub mod python;
pub mod report;
pub mod text;
