use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match gatehouse::cli::run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::FAILURE
        }
    }
}
