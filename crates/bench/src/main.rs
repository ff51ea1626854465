//! `emporium-bench`: the load benchmark and the crash-safety test of the release server.
//!
//! ```text
//! emporium-bench run   [--products 10000] [--duration 10] [--connections 32]
//!                      [--postgres ADMIN_URL] [--servers 1]
//! emporium-bench crash [--rounds 5] [--postgres ADMIN_URL]
//! ```
//!
//! Both build nothing: they start `target/release/emporium` (see `scripts/bench.sh` and
//! `scripts/crash-test.sh`, which build it first).

mod crash;
mod load;
mod seed;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "emporium-bench",
    about = "Load benchmark and crash-safety test for Emporium"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Seed a fresh database, start the server and drive every scenario at fixed concurrency.
    Run {
        /// Products in the catalog.
        #[arg(long, default_value_t = 10_000)]
        products: usize,
        /// Seconds each scenario runs.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Concurrent connections (virtual users).
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// The server binary.
        #[arg(long, default_value = "target/release/emporium")]
        server: PathBuf,
        /// Where to write the results as JSON.
        #[arg(long, default_value = "bench-results.json")]
        out: PathBuf,
        /// Only these scenarios (comma-separated names).
        #[arg(long)]
        only: Option<String>,
        /// Run on a new database on this PostgreSQL server (an admin URL such as
        /// postgres://postgres@127.0.0.1:5432/postgres) instead of a SQLite file.
        #[arg(long)]
        postgres: Option<String>,
        /// Server processes on the one database; connections are spread over them.
        #[arg(long, default_value_t = 1)]
        servers: usize,
    },
    /// Kill the server with SIGKILL in the middle of concurrent checkouts, restart it, and
    /// check that nothing acknowledged was lost and the database is intact.
    Crash {
        /// How many times.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// The server binary.
        #[arg(long, default_value = "target/release/emporium")]
        server: PathBuf,
        /// Run on PostgreSQL (an admin URL): two servers on one new database, one of them
        /// killed, the other serving on.
        #[arg(long)]
        postgres: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command {
            Command::Run {
                products,
                duration,
                connections,
                server,
                out,
                only,
                postgres,
                servers,
            } => {
                load::run(load::Options {
                    products,
                    duration,
                    connections,
                    server,
                    out,
                    only,
                    postgres,
                    servers,
                })
                .await
            }
            Command::Crash {
                rounds,
                server,
                postgres,
            } => crash::run(rounds, &server, postgres.as_deref()).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("emporium-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
