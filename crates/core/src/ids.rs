//! Newtype ids. Each wraps the integer primary key of its table and maps to an SQL `Integer`.

use std::fmt;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Integer;
use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            Serialize, Deserialize, AsExpression, FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = Integer)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub struct $name(pub i32);

        impl $name {
            /// The raw integer key.
            pub const fn get(self) -> i32 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<$name> for i32 {
            fn from(id: $name) -> i32 {
                id.0
            }
        }

        impl<DB: Backend> ToSql<Integer, DB> for $name
        where
            i32: ToSql<Integer, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                <i32 as ToSql<Integer, DB>>::to_sql(&self.0, out)
            }
        }

        impl<DB: Backend> FromSql<Integer, DB> for $name
        where
            i32: FromSql<Integer, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                <i32 as FromSql<Integer, DB>>::from_sql(bytes).map(Self)
            }
        }
    };
}

id_type!(
    /// The id of an account.
    UserId
);
id_type!(
    /// The id of a product in the catalog.
    ProductId
);
id_type!(
    /// The id of an order.
    OrderId
);
id_type!(
    /// The id of a signed-in session (one per signin, shared by its access and refresh tokens).
    SessionId
);
id_type!(
    /// The id of a saved shipping address.
    AddressId
);
id_type!(
    /// The id of a webhook endpoint.
    WebhookId
);
id_type!(
    /// The id of one delivery of one event to one webhook endpoint.
    DeliveryId
);
id_type!(
    /// The id of a webhook event.
    EventId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_plain_integers() {
        assert_eq!(serde_json::to_string(&ProductId(7)).unwrap(), "7");
        let id: UserId = serde_json::from_str("42").unwrap();
        assert_eq!(id, UserId(42));
        assert_eq!(id.to_string(), "42");
    }
}
