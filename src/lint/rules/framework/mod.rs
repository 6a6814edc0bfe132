pub mod async_def_task;
pub mod blocking_result_wait_in_request_handler;
pub mod flask_task_without_app_context;
pub mod syntax_error;
pub mod task_module_not_imported_by_worker;
