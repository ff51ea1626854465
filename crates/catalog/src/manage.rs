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
    Ok(live(conn, id)?.into_product())
}

/// Every editable column of a product, with the lower-cased keys derived from the name and
/// category. One definition for create, replace and patch.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = products)]
#[diesel(treat_none_as_null = true)]
struct ProductValues {
    name: String,
    name_key: String,
    description: String,
    price_cents: emporium_core::Money,
    stock: i32,
    /// `stock > 0`, which the in-stock listing indexes key on (the database's triggers keep
    /// it so for any other writer).
    in_stock: bool,
    category: String,
    category_key: String,
    image_url: Option<String>,
}

impl From<ProductFields> for ProductValues {
    fn from(fields: ProductFields) -> Self {
        ProductValues {
            name_key: fields.name.to_lowercase(),
            name: fields.name,
            description: fields.description,
            price_cents: fields.price,
            stock: fields.stock,
            in_stock: fields.stock > 0,
            category_key: fields.category.to_lowercase(),
            category: fields.category,
            image_url: fields.image_url,
        }
    }
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
                ProductValues::from(fields.clone()),
                products::owner_id.eq(owner),
                products::created_at.eq(at),
                products::updated_at.eq(at),
            ))
            .returning(products::id)
            .get_result(conn)?;
        get(conn, id)
    })
}

fn update(
    conn: &mut Conn,
    id: ProductId,
    values: ProductValues,
    now: DateTime<Utc>,
) -> Result<Product, CatalogError> {
    diesel::update(products::table.find(id))
        .set((values, products::updated_at.eq(now.naive_utc())))
        .execute(conn)?;
    get(conn, id)
}

/// Publishes the webhook event for product `id`'s stock going from `before` to `after`, if
/// that crosses zero (`product.out_of_stock` or `product.back_in_stock`, with the product as
/// the API shows it). Call it in the transaction that changed the stock.
pub fn stock_changed(
    conn: &mut Conn,
    id: ProductId,
    before: i32,
    after: i32,
    now: DateTime<Utc>,
) -> Result<(), CatalogError> {
    if let Some(event) = emporium_webhooks::EventType::for_stock_change(before, after) {
        let product = live(conn, id)?.into_product();
        emporium_webhooks::publish(conn, event, &product, now)?;
    }
    Ok(())
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
        let before = owned(conn, actor, id)?.stock;
        let product = update(conn, id, fields.clone().into(), now)?;
        stock_changed(conn, id, before, product.stock, now)?;
        Ok(product)
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
        let before = row.stock;
        let patch = patch.clone();
        let fields = ProductFields {
            name: patch.name.unwrap_or(row.name),
            description: patch.description.unwrap_or(row.description),
            price: patch.price.unwrap_or(row.price_cents),
            stock: patch.stock.unwrap_or(row.stock),
            category: patch.category.unwrap_or(row.category),
            image_url: patch.image_url.unwrap_or(row.image_url),
        };
        let product = update(conn, id, fields.into(), now)?;
        stock_changed(conn, id, before, product.stock, now)?;
        Ok(product)
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
