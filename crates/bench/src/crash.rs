//! Crash safety: SIGKILL mid-checkout, restart, and check that nothing acknowledged is lost.
//!
//! On SQLite one server is killed and restarted on the file. On PostgreSQL two servers share
//! the database and one of them is killed: the other must keep taking orders, and every order
//! either of them acknowledged must be in the database.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::Text;
use emporium_db::schema::{order_items, orders, products};
use futures_util::future::join_all;
use serde_json::json;

use crate::load::{send, send_json};
use crate::seed;
use crate::server::Server;

#[derive(QueryableByName)]
struct Integrity {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// An order a server answered 201 for: its id and lines, and whether the answer came after
/// the kill.
type Acked = (i32, Vec<(i32, i32)>, bool);

/// `emporium-bench crash`.
pub async fn run(rounds: usize, binary: &Path, postgres: Option<&str>) -> anyhow::Result<()> {
    let mut failures = 0;
    for round in 1..=rounds {
        match one_round(round, binary, postgres).await {
            Ok(summary) => println!("round {round}: ok ({summary})"),
            Err(error) => {
                failures += 1;
                println!("round {round}: FAILED: {error:#}");
            }
        }
    }
    anyhow::ensure!(failures == 0, "{failures} of {rounds} rounds failed");
    println!("crash safety: {rounds} rounds passed");
    Ok(())
}

async fn one_round(round: usize, binary: &Path, postgres: Option<&str>) -> anyhow::Result<String> {
    let seeded = seed::seed(40, 16, 40, 100_000, postgres)?;
    let log = seeded.dir.path().join(format!("server-{round}.log"));
    let server = Server::start(binary, &seeded.url, &log).await?;
    // On PostgreSQL, a second server on the same database survives the kill.
    let survivor = match postgres {
        Some(_) => {
            let log = seeded.dir.path().join(format!("survivor-{round}.log"));
            Some(Server::start(binary, &seeded.url, &log).await?)
        }
        None => None,
    };
    let mut bases = vec![server.base.clone()];
    bases.extend(survivor.iter().map(|s| s.base.clone()));
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .finish();
    let mut tokens = Vec::new();
    for email in &seeded.shoppers {
        let (status, body) = send_json(
            client.post(format!("{}/auth/signin", server.base)),
            Some(json!({"email": email, "password": seed::PASSWORD})),
        )
        .await;
        anyhow::ensure!(status == 200, "signin failed");
        tokens.push(
            body.and_then(|b| b["access_token"].as_str().map(String::from))
                .unwrap_or_default(),
        );
    }

    let acked: Rc<RefCell<Vec<Acked>>> = Rc::new(RefCell::new(Vec::new()));
    let killed = Rc::new(RefCell::new(false));
    // When the buyers stop: at the kill on SQLite; two seconds later with a survivor.
    let stop_at: Rc<Cell<Option<Instant>>> = Rc::new(Cell::new(None));
    let buyers = tokens.iter().enumerate().map(|(user, token)| {
        let (client, acked, killed, stop_at) = (
            client.clone(),
            acked.clone(),
            killed.clone(),
            stop_at.clone(),
        );
        let base = bases[user % bases.len()].clone();
        let hot = seeded.hot.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            let mut i = 0usize;
            while Instant::now() < deadline {
                let product = hot[(i * 7 + user * 13) % hot.len()];
                let quantity = 1 + (i + user) % 3;
                let add = client
                    .post(format!("{base}/cart/add"))
                    .insert_header(("Authorization", format!("Bearer {token}")));
                let status = send(
                    add,
                    Some(json!({"product_id": product, "quantity": quantity})),
                )
                .await;
                if status == 0 {
                    break;
                }
                let checkout = client
                    .post(format!("{base}/checkout"))
                    .insert_header(("Authorization", format!("Bearer {token}")));
                let (status, body) = send_json(checkout, None).await;
                if status == 0 {
                    break;
                }
                if status == 201
                    && let Some(order) = body
                {
                    let lines = order["items"]
                        .as_array()
                        .map(|items| {
                            items
                                .iter()
                                .map(|item| {
                                    (
                                        item["product_id"].as_i64().unwrap_or(0) as i32,
                                        item["quantity"].as_i64().unwrap_or(0) as i32,
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    acked.borrow_mut().push((
                        order["id"].as_i64().unwrap_or(0) as i32,
                        lines,
                        *killed.borrow(),
                    ));
                }
                if stop_at.get().is_some_and(|at| Instant::now() >= at) {
                    break;
                }
                i += 1;
            }
        }
    });
    // Kill somewhere between 0.3 s and 1.5 s into the load, differently each round.
    let delay = Duration::from_millis(300 + (round as u64 * 389) % 1200);
    let serve_on = if survivor.is_some() {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    };
    let killer = {
        let (killed, stop_at) = (killed.clone(), stop_at.clone());
        async move {
            actix_web::rt::time::sleep(delay).await;
            *killed.borrow_mut() = true;
            stop_at.set(Some(Instant::now() + serve_on));
            server.kill_hard()
        }
    };
    let (_, kill) = futures_util::future::join(join_all(buyers), killer).await;
    kill?;
    let acked = acked.borrow().clone();
    anyhow::ensure!(
        !acked.is_empty(),
        "no order was acknowledged before the kill"
    );

    let after_kill = acked.iter().filter(|(_, _, after)| *after).count();
    if let Some(survivor) = &survivor {
        anyhow::ensure!(
            after_kill > 0,
            "the surviving server acknowledged no order after the kill"
        );
        let status = send(client.get(format!("{}/ready", survivor.base)), None).await;
        anyhow::ensure!(status == 200, "the survivor is not ready after the kill");
    }

    // The database as the crash left it (opening a SQLite file replays the WAL).
    let settings = seed::settings(&seeded.url)?;
    let (pool, _) = emporium_db::connect(&settings.database)?;
    let mut conn = pool.get()?;
    if let emporium_db::Conn::Sqlite(_) = &*conn {
        let integrity: Vec<Integrity> =
            diesel::sql_query("PRAGMA integrity_check").load(&mut conn)?;
        anyhow::ensure!(
            integrity.len() == 1 && integrity[0].integrity_check == "ok",
            "integrity_check: {:?}",
            integrity
                .iter()
                .map(|r| &r.integrity_check)
                .collect::<Vec<_>>()
        );
    }
    for (id, lines, _) in &acked {
        let exists: i64 = orders::table
            .filter(orders::id.eq(id))
            .count()
            .get_result(&mut conn)?;
        anyhow::ensure!(exists == 1, "acknowledged order {id} is missing");
        let mut stored: Vec<(Option<i32>, i32)> = order_items::table
            .filter(order_items::order_id.eq(id))
            .select((order_items::product_id, order_items::quantity))
            .load::<(Option<emporium_core::ProductId>, i32)>(&mut conn)?
            .into_iter()
            .map(|(p, q)| (p.map(|p| p.get()), q))
            .collect();
        let mut expected: Vec<(Option<i32>, i32)> =
            lines.iter().map(|(p, q)| (Some(*p), *q)).collect();
        stored.sort_unstable();
        expected.sort_unstable();
        anyhow::ensure!(
            stored == expected,
            "order {id}: lines {stored:?}, acknowledged {expected:?}"
        );
    }
    let mut sold: HashMap<i32, i64> = HashMap::new();
    let rows: Vec<(Option<emporium_core::ProductId>, i32)> = order_items::table
        .select((order_items::product_id, order_items::quantity))
        .load(&mut conn)?;
    for (product, quantity) in rows {
        if let Some(product) = product {
            *sold.entry(product.get()).or_default() += i64::from(quantity);
        }
    }
    let stored_orders: i64 = orders::table.count().get_result(&mut conn)?;
    for (product, initial) in &seeded.initial_stock {
        let stock: i32 = products::table
            .find(emporium_core::ProductId(*product))
            .select(products::stock)
            .first(&mut conn)?;
        anyhow::ensure!(stock >= 0, "product {product} has negative stock");
        let sold = sold.get(product).copied().unwrap_or(0);
        anyhow::ensure!(
            *initial == i64::from(stock) + sold,
            "product {product}: initial {initial} != stock {stock} + sold {sold}"
        );
    }
    drop(conn);
    drop(pool);

    // And the server starts again on it.
    let again = Server::start(
        binary,
        &seeded.url,
        &seeded.dir.path().join(format!("server-{round}-again.log")),
    )
    .await?;
    let status = send(client.get(format!("{}/ready", again.base)), None).await;
    anyhow::ensure!(status == 200, "not ready after the restart");
    again.stop()?;
    if let Some(survivor) = survivor {
        survivor.stop()?;
    }
    let survived = if bases.len() > 1 {
        format!(", {after_kill} of them by the survivor after the kill")
    } else {
        String::new()
    };
    Ok(format!(
        "killed after {} ms; {} acknowledged orders all present{survived}, {} stored, stock balanced",
        delay.as_millis(),
        acked.len(),
        stored_orders
    ))
}
