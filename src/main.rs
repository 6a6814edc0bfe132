use std::process::ExitCode;

fn main() -> ExitCode {
    celery_doctor::cli::main()
}
