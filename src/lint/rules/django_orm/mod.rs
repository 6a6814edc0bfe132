pub mod dispatch_inside_atomic_block;
pub mod dispatch_under_atomic_requests;
pub mod orm_object_as_task_argument;
