//! The Celery project model (catalog §2): facts per module, joined into one project.

pub mod facts;
pub mod project;
pub mod settings;
#[rustfmt::skip]
mod settings_table;

pub use project::{
    BEAT_ENTRY_KEYS, BeatEntry, DJANGO_BEAT_ENTRY_KEYS, RouteEntry, RoutePattern, Scheduler,
};
pub use project::{Config, ModelOptions, Module, Project, SettingEntry, SourceKind, Task};
