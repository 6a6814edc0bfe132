pub mod route_matches_no_task;
pub mod route_to_unconsumed_queue;
