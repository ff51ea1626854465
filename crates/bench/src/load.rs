//! The load benchmark: scenarios driven at fixed concurrency for a fixed time.

use std::future::Future;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::seed::{self, Seeded};
use crate::server::Server;

/// What `emporium-bench run` was asked for.
pub struct Options {
    pub products: usize,
    pub duration: u64,
    pub connections: usize,
    pub server: PathBuf,
    pub out: PathBuf,
    pub only: Option<String>,
    /// A PostgreSQL server's admin URL: seed and serve a new database there.
    pub postgres: Option<String>,
    /// Server processes on the one database; connections are spread over them.
    pub servers: usize,
}

/// One scenario's results.
pub struct Stats {
    pub name: String,
    pub connections: usize,
    pub requests: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latency_us: Histogram<u64>,
}

impl Stats {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    fn ms(&self, quantile: f64) -> f64 {
        self.latency_us.value_at_quantile(quantile) as f64 / 1000.0
    }

    fn json(&self) -> Value {
        json!({
            "scenario": self.name, "connections": self.connections, "requests": self.requests,
            "errors": self.errors, "rps": (self.rps() * 10.0).round() / 10.0,
            "p50_ms": self.ms(0.5), "p99_ms": self.ms(0.99), "max_ms": self.latency_us.max() as f64 / 1000.0,
        })
    }
}

/// What a step reports: whether it succeeded, and how long the part it measures took.
pub trait Outcome {
    /// `(succeeded, latency)`, given how long the whole step took.
    fn split(self, whole: Duration) -> (bool, Duration);
}

/// A step measured as a whole.
impl Outcome for bool {
    fn split(self, whole: Duration) -> (bool, Duration) {
        (self, whole)
    }
}

/// A step that measures one part of itself (a request after some set-up).
pub struct Timed {
    pub ok: bool,
    pub took: Duration,
}

impl Outcome for Timed {
    fn split(self, _whole: Duration) -> (bool, Duration) {
        (self.ok, self.took)
    }
}

/// Runs `step(virtual_user, iteration)` from `connections` virtual users, each one after the
/// other as fast as the server answers, for `duration`. A step returns whether it succeeded
/// (and, as [`Timed`], what to count as its latency).
pub async fn drive<F, Fut>(
    name: &str,
    connections: usize,
    duration: Duration,
    step: F,
) -> anyhow::Result<Stats>
where
    F: Fn(usize, u64) -> Fut,
    Fut: Future<Output: Outcome>,
{
    let mut histograms = Vec::with_capacity(connections);
    for _ in 0..connections {
        histograms.push(Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let step = &step;
    let users = histograms
        .into_iter()
        .enumerate()
        .map(|(user, mut histogram)| async move {
            let (mut requests, mut errors, mut iteration) = (0u64, 0u64, 0u64);
            while Instant::now() < deadline {
                let sent = Instant::now();
                let (ok, took) = step(user, iteration).await.split(sent.elapsed());
                let micros = u64::try_from(took.as_micros())
                    .unwrap_or(u64::MAX)
                    .clamp(1, 120_000_000);
                let _ = histogram.record(micros);
                requests += 1;
                errors += u64::from(!ok);
                iteration += 1;
            }
            (histogram, requests, errors)
        });
    let results = join_all(users).await;
    let elapsed = started.elapsed();
    let mut latency_us = Histogram::<u64>::new_with_bounds(1, 120_000_000, 3)?;
    let (mut requests, mut errors) = (0, 0);
    for (histogram, r, e) in results {
        latency_us.add(histogram)?;
        requests += r;
        errors += e;
    }
    Ok(Stats {
        name: name.to_string(),
        connections,
        requests,
        errors,
        elapsed,
        latency_us,
    })
}

/// Everything a step needs.
pub struct Context {
    pub client: awc::Client,
    /// Every server's `http://127.0.0.1:PORT`; virtual user `u` talks to `bases[u % n]`.
    pub bases: Vec<String>,
    pub tokens: Vec<String>,
    pub seeded: Seeded,
}

/// A request's outcome: success, after reading the whole body (so the connection is reused).
pub async fn send(request: awc::ClientRequest, body: Option<Value>) -> u16 {
    match request_with(request, body).await {
        Some(mut response) => {
            // Read to the end, as a load generator such as wrk does, but not parsed: parsing
            // every body (a list page is ~7 KB) cost the load generator, on the same two cores
            // as the server, a share of what the server was measured to do.
            match response.body().limit(8 << 20).await {
                Ok(_) => response.status().as_u16(),
                Err(_) => 0,
            }
        }
        None => 0,
    }
}

/// [`send`] for a caller that needs the body: the status and the body parsed as JSON.
pub async fn send_json(request: awc::ClientRequest, body: Option<Value>) -> (u16, Option<Value>) {
    match request_with(request, body).await {
        Some(mut response) => {
            let status = response.status().as_u16();
            let body = response.body().limit(8 << 20).await.ok();
            (status, body.and_then(|b| serde_json::from_slice(&b).ok()))
        }
        None => (0, None),
    }
}

async fn request_with(
    request: awc::ClientRequest,
    body: Option<Value>,
) -> Option<
    awc::ClientResponse<
        impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>,
    >,
> {
    let sent = match body {
        Some(body) => request.send_json(&body).await,
        None => request.send().await,
    };
    sent.ok()
}

impl Context {
    fn base(&self, user: usize) -> &str {
        &self.bases[user % self.bases.len()]
    }

    fn get(&self, user: usize, path: &str, token: Option<&str>) -> awc::ClientRequest {
        let request = self.client.get(format!("{}{path}", self.base(user)));
        match token {
            Some(token) => request.insert_header(("Authorization", format!("Bearer {token}"))),
            None => request,
        }
    }

    fn post(&self, user: usize, path: &str, token: Option<&str>) -> awc::ClientRequest {
        let request = self.client.post(format!("{}{path}", self.base(user)));
        match token {
            Some(token) => request.insert_header(("Authorization", format!("Bearer {token}"))),
            None => request,
        }
    }

    fn delete(&self, user: usize, path: &str, token: &str) -> awc::ClientRequest {
        self.client
            .delete(format!("{}{path}", self.base(user)))
            .insert_header(("Authorization", format!("Bearer {token}")))
    }
}

const TERMS: [&str; 16] = [
    "lapt",
    "head",
    "smart",
    "eco",
    "classic",
    "tent",
    "guitar",
    "coffee",
    "desk lamp",
    "pro",
    "vintage",
    "boots",
    "knife",
    "puzzle",
    "yoga",
    "camera",
];

async fn signin(ctx: &Context, user: usize) -> Option<String> {
    signin_as(ctx, user, &ctx.seeded.shoppers[user]).await
}

async fn signin_as(ctx: &Context, user: usize, email: &str) -> Option<String> {
    let (status, body) = send_json(
        ctx.post(user, "/auth/signin", None),
        Some(json!({"email": email, "password": seed::PASSWORD})),
    )
    .await;
    (status == 200)
        .then(|| body?.get("access_token")?.as_str().map(String::from))
        .flatten()
}

async fn list(ctx: &Context, user: usize, i: u64) -> bool {
    let category = &ctx.seeded.categories[(user + i as usize) % ctx.seeded.categories.len()];
    let path = format!(
        "/products?category={category}&in_stock=true&sort_by=price_asc&page={}&page_size=20",
        1 + i % 5
    );
    send(ctx.get(user, &path, None), None).await == 200
}

/// Lines of a shopper's cart in the add-to-cart scenario (quantities grow, ~75 units a line in
/// a 10 s run; a line holds at most 999).
const CART_LINES: u64 = 10;

async fn add(ctx: &Context, user: usize, i: u64) -> bool {
    let hot = &ctx.seeded.hot;
    let product = hot[(i as usize * 31 + user) % hot.len()];
    send(
        ctx.post(user, "/cart/add", Some(&ctx.tokens[user])),
        Some(json!({"product_id": product, "quantity": 1})),
    )
    .await
        == 200
}

async fn clear_carts(ctx: &Context) {
    join_all(
        ctx.tokens
            .iter()
            .enumerate()
            .map(|(u, t)| send(ctx.delete(u, "/cart", t), None)),
    )
    .await;
}

/// `emporium-bench run`.
pub async fn run(options: Options) -> anyhow::Result<()> {
    let shoppers = options.connections.max(1);
    let seeded = seed::seed(
        options.products,
        shoppers,
        500.min(options.products),
        1_000_000,
        options.postgres.as_deref(),
    )?;
    let mut servers = Vec::new();
    let mut logs = Vec::new();
    for n in 0..options.servers.max(1) {
        let log = seeded.dir.path().join(format!("server-{n}.log"));
        servers.push(Server::start(&options.server, &seeded.url, &log).await?);
        logs.push(log);
    }
    let client = awc::Client::builder()
        .connector(awc::Connector::new().limit(options.connections * 2 + 8))
        .timeout(Duration::from_secs(60))
        .finish();
    let mut ctx = Context {
        client,
        bases: servers.iter().map(|s| s.base.clone()).collect(),
        tokens: Vec::new(),
        seeded,
    };
    for user in 0..ctx.seeded.shoppers.len() {
        let token = signin(&ctx, user)
            .await
            .ok_or_else(|| anyhow::anyhow!("signin of shopper {user} failed"))?;
        ctx.tokens.push(token);
    }
    let ctx = Rc::new(ctx);
    let duration = Duration::from_secs(options.duration);
    let c = options.connections;
    let wanted = |name: &str| {
        options
            .only
            .as_deref()
            .is_none_or(|only| only.split(',').any(|n| n.trim() == name))
    };
    let mut results: Vec<Stats> = Vec::new();

    if wanted("ceiling") {
        let ctx = ctx.clone();
        results.push(
            drive("ceiling: GET /health", c, duration, |u, _| {
                let ctx = ctx.clone();
                async move { send(ctx.get(u, "/health", None), None).await == 200 }
            })
            .await?,
        );
    }
    if wanted("list") {
        let ctx = ctx.clone();
        results.push(
            drive(
                "list: category+in_stock+sort, GET /products",
                c,
                duration,
                |u, i| {
                    let ctx = ctx.clone();
                    async move { list(&ctx, u, i).await }
                },
            )
            .await?,
        );
    }
    if wanted("search") {
        let ctx = ctx.clone();
        results.push(
            drive("search: GET /products/search?q=", c, duration, |u, i| {
                let ctx = ctx.clone();
                async move {
                    let term = TERMS[(u + i as usize) % TERMS.len()].replace(' ', "%20");
                    send(
                        ctx.get(u, &format!("/products/search?q={term}&page_size=20"), None),
                        None,
                    )
                    .await
                        == 200
                }
            })
            .await?,
        );
    }
    if wanted("cold") {
        // Every search follows a catalog change (a re-price, as a shop's admin or its stock
        // feed makes all day), so it finds no cached count or page: the cold path.
        let admin = signin_as(&ctx, 0, seed::ADMIN_EMAIL)
            .await
            .ok_or_else(|| anyhow::anyhow!("signin of the admin failed"))?;
        let ctx2 = ctx.clone();
        let admin = Rc::new(admin);
        results.push(
            drive(
                "cold search: re-price, then GET /products/search",
                c,
                duration,
                |u, i| {
                    let (ctx, admin) = (ctx2.clone(), admin.clone());
                    async move {
                        let id = 1 + (i as usize * 7919 + u * 104_729) % ctx.seeded.products;
                        let price = 10 + (i % 90);
                        let status = send(
                            ctx.client
                                .patch(format!("{}/products/{id}", ctx.base(u)))
                                .insert_header(("Authorization", format!("Bearer {admin}"))),
                            Some(json!({ "price": price })),
                        )
                        .await;
                        let term = TERMS[(u + i as usize) % TERMS.len()].replace(' ', "%20");
                        let sent = Instant::now();
                        let searched = send(
                            ctx.get(u, &format!("/products/search?q={term}&page_size=20"), None),
                            None,
                        )
                        .await;
                        Timed {
                            ok: status == 200 && searched == 200,
                            took: sent.elapsed(),
                        }
                    }
                },
            )
            .await?,
        );
    }
    if wanted("detail") {
        let ctx = ctx.clone();
        results.push(
            drive("detail: GET /products/{id}", c, duration, |u, i| {
                let ctx = ctx.clone();
                async move {
                    let id = 1 + (i as usize * 7919 + u * 104_729) % ctx.seeded.products;
                    send(ctx.get(u, &format!("/products/{id}"), None), None).await == 200
                }
            })
            .await?,
        );
    }
    if wanted("cart") {
        clear_carts(&ctx).await;
        for user in 0..ctx.tokens.len() {
            for i in 0..3 {
                add(&ctx, user, i).await;
            }
        }
        let view = ctx.clone();
        results.push(
            drive("cart view: GET /cart (3 lines)", c, duration, |u, _| {
                let ctx = view.clone();
                async move { send(ctx.get(u, "/cart", Some(&ctx.tokens[u])), None).await == 200 }
            })
            .await?,
        );
        clear_carts(&ctx).await;
        let adding = ctx.clone();
        results.push(
            drive(
                "add to cart: POST /cart/add (10 lines)",
                c,
                duration,
                |u, i| {
                    let ctx = adding.clone();
                    // Each shopper adds to ten lines in turn, so a cart stays a shopper's cart.
                    // (Cycling through all 500 hot products grew every cart to 500 lines within
                    // seconds, and the scenario measured reading and encoding 65 KB carts.)
                    async move { add(&ctx, u, i % CART_LINES).await }
                },
            )
            .await?,
        );
    }
    if wanted("checkout") {
        clear_carts(&ctx).await;
        let ctx2 = ctx.clone();
        results.push(
            drive(
                "checkout flow: add + POST /checkout (per order)",
                c,
                duration,
                |u, i| {
                    let ctx = ctx2.clone();
                    async move {
                        add(&ctx, u, i).await
                            && send(ctx.post(u, "/checkout", Some(&ctx.tokens[u])), None).await
                                == 201
                    }
                },
            )
            .await?,
        );
    }
    if wanted("signin") {
        let ctx2 = ctx.clone();
        results.push(
            drive(
                "signin: POST /auth/signin (Argon2id)",
                c,
                duration,
                |u, _| {
                    let ctx = ctx2.clone();
                    async move { signin(&ctx, u).await.is_some() }
                },
            )
            .await?,
        );
    }
    if wanted("flood") {
        let half = (c / 2).max(1);
        let (a, b) = (ctx.clone(), ctx.clone());
        let baseline = drive(
            "list alone (half the connections)",
            half,
            duration,
            |u, i| {
                let ctx = a.clone();
                async move { list(&ctx, u, i).await }
            },
        )
        .await?;
        let list_ctx = ctx.clone();
        let (listed, flooded) = futures_util::future::join(
            drive("list during a signin flood", half, duration, move |u, i| {
                let ctx = list_ctx.clone();
                async move { list(&ctx, u, i).await }
            }),
            drive("  the signin flood", half, duration, move |u, _| {
                let ctx = b.clone();
                async move { signin(&ctx, u).await.is_some() }
            }),
        )
        .await;
        results.push(baseline);
        results.push(listed?);
        results.push(flooded?);
    }

    let peak_rss: Vec<Option<u64>> = servers.iter().map(Server::peak_rss_kib).collect();
    let database = if options.postgres.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!();
    println!(
        "Emporium load benchmark: {database}, {} server(s), {} products, {} connections, {} s per scenario",
        servers.len(),
        options.products,
        c,
        options.duration
    );
    println!(
        "{:<52} {:>10} {:>9} {:>9} {:>8}",
        "scenario", "req/s", "p50 ms", "p99 ms", "errors"
    );
    for stats in &results {
        println!(
            "{:<52} {:>10.0} {:>9.2} {:>9.2} {:>8}",
            stats.name,
            stats.rps(),
            stats.ms(0.5),
            stats.ms(0.99),
            stats.errors
        );
    }
    if results.iter().any(|stats| stats.errors > 0) {
        // What the servers said about the failed requests (they log at warn).
        for (n, log) in logs.iter().enumerate() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            println!("server {n} log, last lines:");
            for line in &lines[lines.len().saturating_sub(10)..] {
                println!("  {line}");
            }
        }
    }
    for (n, kib) in peak_rss.iter().enumerate() {
        if let Some(kib) = kib {
            println!("server {n} peak RSS: {:.1} MiB", *kib as f64 / 1024.0);
        }
    }
    let report = json!({
        "database": database, "servers": servers.len(),
        "products": options.products, "connections": c, "duration_secs": options.duration,
        "server_peak_rss_kib": peak_rss.iter().flatten().max(),
        "servers_peak_rss_kib": peak_rss,
        "scenarios": results.iter().map(Stats::json).collect::<Vec<_>>(),
    });
    std::fs::write(&options.out, serde_json::to_string_pretty(&report)?)?;
    println!("results written to {}", options.out.display());
    drop(ctx);
    for server in servers {
        server.stop()?;
    }
    Ok(())
}
