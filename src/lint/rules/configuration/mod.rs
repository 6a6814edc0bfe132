pub mod deprecated_setting_name;
pub mod unknown_or_ignored_setting;
