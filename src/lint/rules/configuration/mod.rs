pub mod always_eager_outside_tests;
pub mod deprecated_setting_name;
pub mod mixed_old_and_new_setting_names;
pub mod unknown_or_ignored_setting;
