pub mod autoretry_without_backoff;
pub mod retry_backoff_option_has_no_effect;
pub mod retry_swallowed_by_broad_except;
pub mod retry_without_bind;
pub mod unbounded_retries;
