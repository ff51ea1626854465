//! The shared vocabulary of Emporium.
//!
//! Every domain crate speaks in these types: newtype ids so a product id cannot be passed where
//! a user id is expected, [`Money`] in integer cents, a normalised [`Email`], pagination
//! ([`PageRequest`], [`Page`]), field-level [`ValidationErrors`], and the [`Settings`] that the
//! whole shop is configured with. Nothing here touches the network, and nothing depends on
//! actix.

mod email;
mod ids;
mod money;
mod number;
mod page;
pub mod settings;
pub mod time;
mod validation;

pub use email::{Email, EmailError};
pub use ids::{AddressId, DeliveryId, EventId, OrderId, ProductId, SessionId, UserId, WebhookId};
pub use money::{Money, MoneyError};
pub use number::{IntegerText, WholeNumber};
pub use page::{Page, PageRequest};
pub use settings::{Settings, SettingsError};
pub use validation::{FieldError, ValidationErrors, present};
