//! The one colour decision (style §3.8), made once and applied to `colored`.

use std::io::IsTerminal;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Decide whether to colour output written to stdout.
pub fn decide(choice: ColorChoice, machine_format: bool, to_file: bool) -> bool {
    let env = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    let on = match choice {
        ColorChoice::Never => false,
        ColorChoice::Always => true,
        ColorChoice::Auto => {
            if env("NO_COLOR") || std::env::var("TERM").is_ok_and(|t| t == "dumb") {
                false
            } else if env("FORCE_COLOR") || env("CLICOLOR_FORCE") {
                true
            } else {
                std::io::stdout().is_terminal()
            }
        }
    };
    let on = on && !machine_format && !to_file;
    colored::control::set_override(on);
    on
}
