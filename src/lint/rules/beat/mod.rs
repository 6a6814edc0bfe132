pub mod crontab_fires_every_minute;
