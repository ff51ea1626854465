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
    /// Manage admin accounts.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Load a demo catalog (300 products in 20 categories) with a demo admin and a demo
    /// shopper, and print their credentials. Running it again changes nothing.
    Demo,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a verified admin account. The password is read from ADMIN_PASSWORD or, when
    /// that is unset, from the first line of standard input; never from the command line.
    Create {
        /// The admin's email address.
        #[arg(long)]
        email: String,
        /// The admin's display name.
        #[arg(long)]
        name: String,
    },
    /// Make an existing account an admin.
    Promote {
        /// The account's email address.
        email: String,
    },
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
        // Read from the database once it is open (emporium_server::open_database).
        SecretSource::Database => {}
    }

    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(serve(settings)),
        Command::Migrate => migrate(&settings),
        Command::Admin(command) => admin(settings, command),
        Command::Demo => demo(settings),
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
    let database = settings.database.describe();
    let host = settings.host.clone();
    let app = Application::build(settings).await?;
    tracing::info!(%database, "listening on http://{host}:{}", app.port());
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let (_, applied) = emporium_db::connect(&settings.database)?;
    tracing::info!(database = %settings.database.describe(), "opened the database");
    if applied.is_empty() {
        tracing::info!("the database is up to date");
    }
    for migration in applied {
        tracing::info!(%migration, "applied migration");
    }
    Ok(())
}

fn admin(mut settings: Settings, command: AdminCommand) -> anyhow::Result<()> {
    use anyhow::Context;
    use emporium_auth::accounts::{self, NewAccount};
    use emporium_auth::{AuthConfig, Password, Role};

    let pool = emporium_server::open_database(&mut settings)?;
    let settings = &settings;
    let mut conn = pool.get()?;
    let now = emporium_core::time::now();
    match command {
        AdminCommand::Create { email, name } => {
            let email =
                emporium_core::Email::parse(&email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
            let password = match &settings.admin_password {
                Some(password) => password.expose().to_string(),
                None => read_password_line().context("reading the password from standard input")?,
            };
            let password =
                Password::parse(&password).map_err(|m| anyhow::anyhow!("password: {m}"))?;
            let auth = AuthConfig::from_settings(settings)?;
            let account = NewAccount {
                name,
                email,
                password,
                role: Role::Admin,
                email_verified: true,
            };
            let user =
                accounts::create_account(&mut conn, &auth, account, now).map_err(|e| match e {
                    emporium_auth::AuthError::EmailTaken => {
                        anyhow::anyhow!(
                            "an account with this email exists; use `emporium admin promote EMAIL`"
                        )
                    }
                    other => other.into(),
                })?;
            println!("created admin {} (id {})", user.email, user.id);
        }
        AdminCommand::Promote { email } => {
            let email =
                emporium_core::Email::parse(&email).map_err(|e| anyhow::anyhow!("EMAIL: {e}"))?;
            let user = accounts::promote(&mut conn, &email, now).map_err(|e| match e {
                emporium_auth::AuthError::NotFound => {
                    anyhow::anyhow!("no account has the email {email}")
                }
                other => other.into(),
            })?;
            println!("{} is now an admin (id {})", user.email, user.id);
        }
    }
    Ok(())
}

/// The first line of standard input, without its line ending (nothing else is trimmed).
fn read_password_line() -> std::io::Result<String> {
    use std::io::{BufRead, IsTerminal, Write};
    if std::io::stdin().is_terminal() {
        eprint!("Password for the new admin (8 to 128 characters; it will be shown as you type): ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.strip_suffix('\n').unwrap_or(&line);
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

/// The demo accounts. Their passwords are public: the demo is for trying the API, not for a
/// shop that takes real orders.
const DEMO_ADMIN: (&str, &str) = ("admin@demo.example", "demo-admin-password");
const DEMO_SHOPPER: (&str, &str) = ("shopper@demo.example", "demo-shopper-password");
const DEMO_PRODUCTS: usize = 300;

fn demo(mut settings: Settings) -> anyhow::Result<()> {
    use emporium_auth::accounts::{self, NewAccount};
    use emporium_auth::{AuthConfig, Password, Role};
    use emporium_core::Email;

    let pool = emporium_server::open_database(&mut settings)?;
    let settings = &settings;
    let mut conn = pool.get()?;
    let auth = AuthConfig::from_settings(settings)?;
    let now = emporium_core::time::now();
    let mut account =
        |(email, password): (&str, &str), role: Role, name: &str| -> anyhow::Result<_> {
            let email = Email::parse(email).map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(user) = accounts::find_by_email(&mut conn, &email)? {
                return Ok(user);
            }
            let password = Password::parse(password).map_err(|m| anyhow::anyhow!("{m}"))?;
            let new = NewAccount {
                name: name.into(),
                email,
                password,
                role,
                email_verified: true,
            };
            Ok(accounts::create_account(&mut conn, &auth, new, now)?)
        };
    let admin = account(DEMO_ADMIN, Role::Admin, "Demo Admin")?;
    account(DEMO_SHOPPER, Role::User, "Demo Shopper")?;

    let request = emporium_catalog::Listing {
        filters: Default::default(),
        sort: None,
        page: emporium_core::PageRequest::default(),
    };
    let existing = emporium_catalog::listing::list(&mut conn, &request)?.total;
    if existing == 0 {
        let loaded = emporium_catalog::demo::load(&mut conn, admin.id, DEMO_PRODUCTS, now)?;
        println!("loaded {loaded} demo products in 20 categories");
    } else {
        println!("the catalog already has {existing} products; no demo products added");
    }
    println!("demo admin:   {} / {}", DEMO_ADMIN.0, DEMO_ADMIN.1);
    println!("demo shopper: {} / {}", DEMO_SHOPPER.0, DEMO_SHOPPER.1);
    println!("start the shop with `emporium serve` and sign in at POST /auth/signin");
    Ok(())
}
