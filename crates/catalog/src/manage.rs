//! Creating, changing and deleting products. Only the admin who owns a product may change or
//! delete it; callers check that the actor is an admin.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use emporium_core::{ProductId, UserId};
use emporium_db::schema::{cart_items, products};
use emporium_db::{Conn, write_transaction};

use crate::CatalogError;
use crate::product::{Product, ProductFields, ProductPatch, ProductRow};

fn live(conn: &mut Conn, id: ProductId) -> Result<ProductRow, CatalogError> {
    products::table
        .find(id)
        .filter(products::deleted_at.is_null())
        .select(ProductRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(CatalogError::NotFound)
}

fn owned(conn: &mut Conn, actor: UserId, id: ProductId) -> Result<ProductRow, CatalogError> {
    let row = live(conn, id)?;
    if row.owner_id != actor {
        return Err(CatalogError::NotOwner);
    }
    Ok(row)
}

/// A live product.
pub fn get(conn: &mut Conn, id: ProductId) -> Result<Product, CatalogError> {
    Ok(live(conn, id)?.to_product())
}

/// Creates a product owned by `owner`.
pub fn create(
    conn: &mut Conn,
    owner: UserId,
    fields: ProductFields,
    now: DateTime<Utc>,
) -> Result<Product, CatalogError> {
    let at = now.naive_utc();
    write_transaction(conn, |conn| {
        let id: ProductId = diesel::insert_into(products::table)
            .values((
                products::name_key.eq(fields.name.to_lowercase()),
                products::name.eq(&fields.name),
                products::description.eq(&fields.description),
                products::price_cents.eq(fields.price),
                products::stock.eq(fields.stock),
                products::category_key.eq(fields.category.to_lowercase()),
                products::category.eq(&fields.category),
                products::image_url.eq(&fields.image_url),
                products::owner_id.eq(owner),
                products::created_at.eq(at),
                products::updated_at.eq(at),
            ))
            .returning(products::id)
            .get_result(conn)?;
        get(conn, id)
    })
}

/// Replaces every field of a product the actor owns.
pub fn replace(
    conn: &mut Conn,
    actor: UserId,
    id: ProductId,
    fields: ProductFields,
    now: DateTime<Utc>,
) -> Result<Product, CatalogError> {
    write_transaction(conn, |conn| {
        owned(conn, actor, id)?;
        diesel::update(products::table.find(id))
            .set((
                products::name_key.eq(fields.name.to_lowercase()),
                products::name.eq(&fields.name),
                products::description.eq(&fields.description),
                products::price_cents.eq(fields.price),
                products::stock.eq(fields.stock),
                products::category_key.eq(fields.category.to_lowercase()),
                products::category.eq(&fields.category),
                products::image_url.eq(&fields.image_url),
                products::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        get(conn, id)
    })
}

/// Changes the given fields of a product the actor owns.
pub fn patch(
    conn: &mut Conn,
    actor: UserId,
    id: ProductId,
    patch: ProductPatch,
    now: DateTime<Utc>,
) -> Result<Product, CatalogError> {
    write_transaction(conn, |conn| {
        let row = owned(conn, actor, id)?;
        let name = patch.name.unwrap_or(row.name);
        let category = patch.category.unwrap_or(row.category);
        diesel::update(products::table.find(id))
            .set((
                products::name_key.eq(name.to_lowercase()),
                products::name.eq(&name),
                products::description.eq(patch.description.unwrap_or(row.description)),
                products::price_cents.eq(patch.price.unwrap_or(row.price_cents)),
                products::stock.eq(patch.stock.unwrap_or(row.stock)),
                products::category_key.eq(category.to_lowercase()),
                products::category.eq(&category),
                products::image_url.eq(patch.image_url.unwrap_or(row.image_url)),
                products::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        get(conn, id)
    })
}

/// Takes a product the actor owns out of the catalog: it leaves listings, search, detail and
/// every cart (its cart lines are deleted in the same transaction). Orders keep their own
/// copies of its name and price.
pub fn delete(
    conn: &mut Conn,
    actor: UserId,
    id: ProductId,
    now: DateTime<Utc>,
) -> Result<(), CatalogError> {
    write_transaction(conn, |conn| {
        owned(conn, actor, id)?;
        diesel::update(products::table.find(id))
            .set((
                products::deleted_at.eq(Some(now.naive_utc())),
                products::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        // Out of every cart, in the same transaction.
        diesel::delete(cart_items::table.filter(cart_items::product_id.eq(id))).execute(conn)?;
        Ok(())
    })
}
