pub mod hardcoded_broker_credentials;
pub mod pickle_serializer_enabled;
pub mod serializer_not_accepted;
pub mod unserializable_task_argument;
