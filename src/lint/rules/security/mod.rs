pub mod hardcoded_broker_credentials;
pub mod pickle_serializer_enabled;
pub mod unserializable_task_argument;
