//! Write transactions behave as if each ran alone, on whichever backend the run uses
//! (SQLite, or PostgreSQL with `EMPORIUM_TEST_POSTGRES_URL`): concurrent read-then-write on
//! one row loses no update, and a rule spanning rows holds under `serializable_transaction`.
#![cfg(feature = "testing")]

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use emporium_db::{TestDb, serializable_transaction, write_transaction};

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = BigInt)]
    value: i64,
}

fn read(conn: &mut emporium_db::Conn, sql: &str) -> Result<i64, diesel::result::Error> {
    Ok(diesel::sql_query(sql).get_result::<Value>(conn)?.value)
}

#[test]
fn concurrent_read_then_write_loses_no_update() {
    let db = TestDb::new();
    db.conn()
        .batch_execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL); INSERT INTO counter VALUES (1, 0)")
        .unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let mut conn = db.conn();
                for _ in 0..25 {
                    write_transaction(&mut conn, |conn| {
                        let n = read(conn, "SELECT n AS value FROM counter WHERE id = 1")?;
                        // A pause between the read and the write: the window in which a
                        // concurrent writer would be lost without the retry.
                        std::thread::sleep(std::time::Duration::from_micros(200));
                        conn.batch_execute(&format!(
                            "UPDATE counter SET n = {} WHERE id = 1",
                            n + 1
                        ))
                    })
                    .unwrap();
                }
            });
        }
    });
    let total = read(
        &mut db.conn(),
        "SELECT n AS value FROM counter WHERE id = 1",
    )
    .unwrap();
    assert_eq!(total, 100, "every increment counted");
}

#[test]
fn a_rule_across_rows_holds_under_serializable_transactions() {
    // "At least one row stays on": two transactions each switch off a different row after
    // checking that another is on. Under snapshot isolation both could pass (write skew);
    // serializable_transaction lets only one.
    let db = TestDb::new();
    db.conn()
        .batch_execute("CREATE TABLE duty (id INTEGER PRIMARY KEY, on_duty BOOLEAN NOT NULL)")
        .unwrap();
    for round in 0..15 {
        db.conn()
            .batch_execute("DELETE FROM duty; INSERT INTO duty VALUES (1, TRUE), (2, TRUE)")
            .unwrap();
        // On PostgreSQL both transactions read before either writes (the overlap that makes
        // write skew possible). SQLite's writers never overlap, so there is nothing to line up.
        let overlap = db.backend() == emporium_core::settings::DatabaseBackend::Postgres;
        let barrier = std::sync::Barrier::new(2);
        let outcomes: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = [1, 2]
                .map(|id| {
                    let (db, barrier) = (&db, &barrier);
                    scope.spawn(move || {
                        let mut conn = db.conn();
                        let mut first = true;
                        serializable_transaction(&mut conn, |conn| {
                            let on =
                                read(conn, "SELECT COUNT(*) AS value FROM duty WHERE on_duty")?;
                            if first && overlap {
                                barrier.wait();
                            }
                            first = false;
                            if on < 2 {
                                return Ok(false);
                            }
                            conn.batch_execute(&format!(
                                "UPDATE duty SET on_duty = FALSE WHERE id = {id}"
                            ))?;
                            Ok::<_, diesel::result::Error>(true)
                        })
                        .unwrap()
                    })
                })
                .into_iter()
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let on = read(
            &mut db.conn(),
            "SELECT COUNT(*) AS value FROM duty WHERE on_duty",
        )
        .unwrap();
        assert_eq!(on, 1, "round {round}: {outcomes:?}");
        assert_eq!(outcomes.iter().filter(|o| **o).count(), 1, "round {round}");
    }
}
