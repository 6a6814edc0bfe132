pub mod async_result_passed_as_argument;
pub mod canvas_argument_arity_mismatch;
pub mod chord_cannot_complete;
