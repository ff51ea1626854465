//! The server under test, as a child process.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `emporium serve`.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// A free local port.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Server {
    /// Starts the server on the database `url` and waits until `/ready` answers.
    pub async fn start(binary: &Path, url: &str, log: &Path) -> anyhow::Result<Server> {
        anyhow::ensure!(
            binary.exists(),
            "{} does not exist; build it with `cargo build --release --workspace --bins`",
            binary.display()
        );
        let port = free_port()?;
        let log = std::fs::File::create(log)?;
        let child = Command::new(binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", crate::seed::JWT_SECRET)
            .env("LOGIN_MAX_FAILURES_PER_EMAIL", "0")
            .env("LOGIN_MAX_FAILURES_PER_IP", "0")
            // Warnings only, unless `RUST_LOG` says otherwise (`RUST_LOG=info scripts/bench.sh`
            // logs a line per request, as the server does by default).
            .env("RUST_LOG", "warn")
            // glibc's allocator settings, the pool's size, the actix workers and the log level,
            // to compare them (`MALLOC_ARENA_MAX=1 scripts/bench.sh`, `WORKERS=4 …`).
            .envs(std::env::vars_os().filter(|(name, _)| {
                let name = name.to_string_lossy();
                name.starts_with("MALLOC_")
                    || ["DB_POOL_SIZE", "WORKERS", "RUST_LOG"].contains(&name.as_ref())
            }))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()?;
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = awc::Client::default();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = client.get(format!("{}/ready", server.base)).send().await
                && response.status().is_success()
            {
                return Ok(server);
            }
            anyhow::ensure!(Instant::now() < deadline, "the server did not become ready");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's peak resident memory (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill_hard(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM and wait for the graceful stop.
    pub fn stop(mut self) -> anyhow::Result<()> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}
