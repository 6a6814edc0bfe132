pub mod async_def_task;
pub mod blocking_result_wait_in_request_handler;
pub mod syntax_error;
