pub mod async_def_task;
pub mod syntax_error;
