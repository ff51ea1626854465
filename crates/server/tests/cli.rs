//! The `emporium` binary as a newcomer runs it: no `.env`, no environment, a fresh folder.
//! In the PostgreSQL half of the suite (`EMPORIUM_TEST_POSTGRES_URL`), the commands that work
//! on either backend (`migrate`, `admin`, `demo`, `serve`) run against a fresh PostgreSQL
//! database instead of the default SQLite file, with no JWT_SECRET (the key is generated and
//! kept in the database).

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code outside #[test] functions: a failed step must fail the test"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_emporium");

/// Where a test's shop keeps its data: a fresh folder, and in the PostgreSQL half of the
/// suite a fresh PostgreSQL database as well.
struct Shop {
    dir: tempfile::TempDir,
    postgres: Option<emporium_db::TestDb>,
}

impl Shop {
    /// The default database (a SQLite file in the folder), or a migrated PostgreSQL
    /// database in the PostgreSQL half.
    fn new() -> Shop {
        Shop {
            dir: tempfile::tempdir().unwrap(),
            postgres: emporium_db::TestDb::is_postgres_run().then(emporium_db::TestDb::new),
        }
    }

    /// A SQLite file whatever the run (for what only SQLite has: files, paths).
    fn sqlite() -> Shop {
        Shop {
            dir: tempfile::tempdir().unwrap(),
            postgres: None,
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The binary in the folder with an empty environment but for `vars` (and the
    /// PostgreSQL `DATABASE_URL`, when there is one).
    fn emporium(&self, vars: &[(&str, &str)]) -> Command {
        let mut command = emporium(self.path(), vars);
        if let Some(db) = &self.postgres
            && !vars.iter().any(|(name, _)| *name == "DATABASE_URL")
        {
            command.env("DATABASE_URL", &db.settings().url);
        }
        command
    }
}

/// The binary in `dir` with an empty environment but for `vars`.
fn emporium(dir: &Path, vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

struct Running {
    child: Child,
    port: u16,
    log: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(shop: &Shop) -> Running {
        // PORT=0 so parallel test runs do not collide; everything else is the default.
        let mut child = shop
            .emporium(&[("PORT", "0")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("binary starts");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut running = Running {
            child,
            port: 0,
            log,
            seen: Vec::new(),
        };
        let marker = "listening on http://127.0.0.1:";
        let line = running.wait_for(marker);
        let after = &line[line.find(marker).unwrap() + marker.len()..];
        let port: String = after.chars().take_while(char::is_ascii_digit).collect();
        running.port = port.parse().expect("port in the log line");
        running
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "no log line containing {needle:?}; saw:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        (status, response)
    }

    fn post_json(&self, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        (response[9..12].parse().unwrap(), response)
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn starts_with_no_configuration_serves_and_stops_on_sigterm() {
    let shop = Shop::sqlite();
    let dir = &shop.dir;
    let mut server = Running::start(&shop);
    server.wait_for("generated a new 256-bit secret");

    let (status, _) = server.get("/health");
    assert_eq!(status, 200);
    let (status, _) = server.get("/ready");
    assert_eq!(status, 200);
    let (status, response) = server.get("/nowhere");
    assert_eq!(status, 404);
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("content-type: application/problem+json"),
        "{response}"
    );
    assert!(lower.contains("x-request-id: "), "{response}");

    assert!(
        dir.path().join("emporium.db").exists(),
        "the default database is ./emporium.db"
    );
    let secret = dir.path().join("emporium.db.jwt-secret");
    assert!(secret.exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let kept = std::fs::read_to_string(&secret).unwrap();

    let status = server.terminate();
    assert!(status.success(), "graceful stop exits 0, got {status}");

    // The second start reuses the stored secret rather than making a new one.
    let mut again = Running::start(&shop);
    again.wait_for("using the stored secret");
    assert_eq!(std::fs::read_to_string(&secret).unwrap(), kept);
    assert_eq!(again.get("/ready").0, 200);
    assert!(again.terminate().success());
}

#[test]
fn bad_configuration_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("JWT_SECRET", "changeme")], "JWT_SECRET"),
        (&[("JWT_SECRET", "too-short")], "JWT_SECRET"),
        (
            &[("JWT_SECRET", "change-me-to-a-long-random-string")],
            "JWT_SECRET",
        ),
        (&[("PORT", "eighty")], "PORT"),
        (&[("EMAIL_BACKEND", "carrier-pigeon")], "EMAIL_BACKEND"),
        (&[("DATABASE_URL", ":memory:")], "DATABASE_URL"),
        (&[("DATABASE_URL", "sqlite::memory:")], "DATABASE_URL"),
        // The FastAPI shop's .env, as it is documented there.
        (&[("SECRET_KEY", "your-secret")], "SECRET_KEY"),
        (&[("RUST_LOG", "emporium=loud")], "RUST_LOG"),
    ];
    for (vars, variable) in cases {
        let output = emporium(dir.path(), vars).arg("serve").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{vars:?}: {stderr}");
        assert!(
            stderr.contains(variable),
            "{vars:?} should name {variable}: {stderr}"
        );
    }
    assert!(
        !dir.path().join("emporium.db").exists(),
        "nothing was created"
    );
}

#[test]
fn migrate_creates_and_migrates_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("data/shop.db");
    let url = format!("sqlite:///{}", database.display());
    let output = emporium(dir.path(), &[("DATABASE_URL", &url)])
        .arg("migrate")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(database.exists());
}

#[test]
fn every_database_url_form_opens_the_file_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let absolute = root.join("abs/shop.db");
    let forms: Vec<(String, std::path::PathBuf)> = vec![
        // The FastAPI shop's form (SQLAlchemy): three slashes, then a relative path.
        ("sqlite:///./db.sqlite3".into(), root.join("db.sqlite3")),
        ("sqlite:///data/rel.db".into(), root.join("data/rel.db")),
        // Four slashes: an absolute path.
        (
            format!("sqlite:///{}", absolute.display()),
            absolute.clone(),
        ),
        ("sqlite://plain.db".into(), root.join("plain.db")),
        ("bare.db".into(), root.join("bare.db")),
        ("file:uri.db".into(), root.join("uri.db")),
    ];
    for (url, file) in forms {
        let output = emporium(&root, &[("DATABASE_URL", &url)])
            .arg("migrate")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{url}: {stderr}");
        assert!(file.is_file(), "{url} should open {}", file.display());
        assert!(
            stderr.contains(&format!("database={}", file.display())),
            "{url}: the log names the absolute path: {stderr}"
        );
    }
}

#[test]
fn on_postgres_migrate_and_the_first_start_keep_the_signing_key_in_the_database() {
    if !emporium_db::TestDb::is_postgres_run() {
        return; // the PostgreSQL half of the suite runs it
    }
    let db = emporium_db::TestDb::empty_postgres();
    let url = db.settings().url.clone();
    let dir = tempfile::tempdir().unwrap();
    let migrate = |expect: &str| {
        let output = emporium(dir.path(), &[("DATABASE_URL", &url)])
            .arg("migrate")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert!(output.status.success(), "{stderr}");
        assert!(stderr.contains(expect), "{expect}: {stderr}");
    };
    migrate("applied migration");
    migrate("the database is up to date");

    let shop = Shop {
        dir,
        postgres: Some(db),
    };
    let mut server = Running::start(&shop);
    server.wait_for("generated a new 256-bit signing key and stored it in the database");
    assert_eq!(server.get("/ready").0, 200);
    let (status, body) = server.post_json(
        "/auth/signup",
        r#"{"name":"Pat","email":"pat@shop.test","password":"a long password"}"#,
    );
    assert_eq!(status, 201, "{body}");
    // A second server on the same database uses the same key.
    let mut second = Running::start(&shop);
    second.wait_for("using the signing key stored in the database");
    assert!(server.terminate().success());
    assert!(second.terminate().success());
    assert_eq!(
        std::fs::read_dir(shop.path()).unwrap().count(),
        0,
        "no key file, no database file beside a PostgreSQL URL"
    );
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_the_admin_can_sign_in() {
    let shop = Shop::new();
    let mut child = shop
        .emporium(&[])
        .args([
            "admin",
            "create",
            "--email",
            "Root@Shop.Test",
            "--name",
            "Root",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b" the root password \n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("created admin root@shop.test"));

    // The same email again is refused with a hint.
    let again = shop
        .emporium(&[("ADMIN_PASSWORD", "another password")])
        .args([
            "admin",
            "create",
            "--email",
            "root@shop.test",
            "--name",
            "Root",
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("admin promote"));

    let promote_nobody = shop
        .emporium(&[])
        .args(["admin", "promote", "nobody@shop.test"])
        .output()
        .unwrap();
    assert!(!promote_nobody.status.success());
    assert!(String::from_utf8_lossy(&promote_nobody.stderr).contains("no account"));

    let server = Running::start(&shop);
    // The password is kept exactly, surrounding spaces included.
    let (status, _) = server.post_json(
        "/auth/signin",
        r#"{"email":"root@shop.test","password":"the root password"}"#,
    );
    assert_eq!(status, 401);
    let (status, body) = server.post_json(
        "/auth/signin",
        r#"{"email":"root@shop.test","password":" the root password "}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("access_token"));
    assert!(server.terminate().success());
}

#[test]
fn admin_password_comes_from_the_environment_and_short_ones_are_refused() {
    let shop = Shop::new();
    let short = shop
        .emporium(&[("ADMIN_PASSWORD", "short")])
        .args(["admin", "create", "--email", "a@shop.test", "--name", "A"])
        .output()
        .unwrap();
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let ok = shop
        .emporium(&[("ADMIN_PASSWORD", "long enough password")])
        .args(["admin", "create", "--email", "a@shop.test", "--name", "A"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let promote = shop
        .emporium(&[])
        .args(["admin", "promote", "A@shop.test"])
        .output()
        .unwrap();
    assert!(promote.status.success());
    assert!(String::from_utf8_lossy(&promote.stdout).contains("a@shop.test is now an admin"));
}

#[test]
fn demo_loads_a_catalog_once_and_prints_credentials_that_work() {
    let shop = Shop::new();
    let first = shop.emporium(&[]).arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains("loaded 300 demo products in 20 categories"),
        "{stdout}"
    );
    assert!(
        stdout.contains("admin@demo.example / demo-admin-password"),
        "{stdout}"
    );
    let again = shop.emporium(&[]).arg("demo").output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("already has 300 products"));

    let server = Running::start(&shop);
    let (status, body) = server.get("/products/categories");
    assert_eq!(status, 200);
    assert_eq!(body.matches("\"product_count\":15").count(), 20, "{body}");
    let (status, body) = server.post_json(
        "/auth/signin",
        r#"{"email":"shopper@demo.example","password":"demo-shopper-password"}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(server.terminate().success());
}
