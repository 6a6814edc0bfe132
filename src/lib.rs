//! celery-doctor: find Celery anti-patterns in Python code (`lint`), and — in later
//! milestones — diagnose live brokers and workers.

pub mod cli;
pub mod color;
pub mod config;
pub mod finding;
pub mod lint;
pub mod python;
pub mod report;
