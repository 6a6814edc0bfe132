pub mod acks_late_without_idempotency_guard;
pub mod duplicate_task_name;
pub mod execution_option_passed_to_delay;
pub mod mutable_default_in_task_signature;
pub mod task_call_arity_mismatch;
pub mod task_decorator_not_outermost;

/// Execution options of `apply_async` that `delay()`/`.s()` would pass as task data.
pub(crate) const EXECUTION_OPTIONS: &[&str] = &[
    "countdown",
    "eta",
    "expires",
    "queue",
    "routing_key",
    "exchange",
    "priority",
    "serializer",
    "compression",
    "link",
    "link_error",
    "headers",
    "task_id",
    "ignore_result",
    "time_limit",
    "soft_time_limit",
    "retry",
    "retry_policy",
    "shadow",
];
pub mod redelivery_before_visibility_timeout;
