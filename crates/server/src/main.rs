//! The `emporium` binary: `serve` (the default) and `migrate`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use emporium_core::Settings;
use emporium_core::settings::SecretSource;
use emporium_server::{Application, telemetry};

/// Emporium, an e-commerce backend.
///
/// Configuration comes from the environment and from `.env` in the current directory; see
/// `.env.example` for every variable.
#[derive(Parser)]
#[command(name = "emporium", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default). Applies pending migrations first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("emporium: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = telemetry::init(&settings.log) {
        eprintln!("emporium: configuration error: {error:#}");
        return ExitCode::from(2);
    }
    match &settings.jwt.source {
        SecretSource::Environment => {}
        SecretSource::Generated(path) => tracing::info!(
            path = %path.display(),
            "JWT_SECRET is not set: generated a new 256-bit secret, stored it (owner-only) \
             beside the database, and will reuse it on every start"
        ),
        SecretSource::Stored(path) => {
            tracing::info!(path = %path.display(), "JWT_SECRET is not set: using the stored secret")
        }
    }

    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(serve(settings)),
        Command::Migrate => migrate(&settings),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("emporium: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let database = settings.database.path.display().to_string();
    let host = settings.host.clone();
    let app = Application::build(settings).await?;
    tracing::info!(%database, "listening on http://{host}:{}", app.port());
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let (_, applied) = emporium_db::connect(&settings.database)?;
    if applied.is_empty() {
        tracing::info!("the database is up to date");
    }
    for migration in applied {
        tracing::info!(%migration, "applied migration");
    }
    Ok(())
}
