//! The messages the shop sends, each with a plain-text and an HTML part.
//!
//! Everything that comes from users (names, product names) is HTML-escaped in the HTML part.
//! Links are built by the caller from `PUBLIC_BASE_URL` and passed in whole.

use emporium_core::Money;

/// A rendered message: subject and both bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// Escapes `&`, `<`, `>`, `"` and `'` for HTML text and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Wraps HTML paragraphs in the shop's layout.
fn layout(shop: &str, body: &str) -> String {
    let shop = escape_html(shop);
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{shop}</title></head>\
         <body style=\"font-family: sans-serif; max-width: 36em; margin: auto\">\n\
         <h2>{shop}</h2>\n{body}\n\
         <p style=\"color: #777; font-size: small\">This message was sent by {shop}.</p>\n\
         </body></html>\n"
    )
}

fn button(link: &str, label: &str) -> String {
    let href = escape_html(link);
    format!(
        "<p><a href=\"{href}\" style=\"padding: .6em 1.2em; background: #1a73e8; color: #fff; \
         text-decoration: none; border-radius: 4px\">{label}</a></p>\n\
         <p>If the button does not work, copy this address into your browser:<br>\
         <a href=\"{href}\">{href}</a></p>"
    )
}

/// "Confirm your email address", with the verification link.
pub fn verification(shop: &str, name: &str, link: &str, valid_hours: u64) -> Content {
    Content {
        subject: format!("Confirm your email address for {shop}"),
        text: format!(
            "Hello {name},\n\nWelcome to {shop}! Confirm your email address by opening this link:\n\n\
             {link}\n\nThe link works once and expires in {valid_hours} hours. If you did not \
             sign up, ignore this message.\n\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>Welcome! Confirm your email address:</p>\n{}\n\
                 <p>The link works once and expires in {valid_hours} hours. If you did not sign \
                 up, ignore this message.</p>",
                escape_html(name),
                button(link, "Confirm my email")
            ),
        ),
    }
}

/// "Welcome", sent once the address is verified.
pub fn welcome(shop: &str, name: &str, shop_url: &str) -> Content {
    Content {
        subject: format!("Welcome to {shop}"),
        text: format!(
            "Hello {name},\n\nYour email address is confirmed and your account is ready.\n\n\
             {shop_url}\n\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>Your email address is confirmed and your account is \
                 ready.</p>\n<p><a href=\"{}\">Visit the shop</a></p>",
                escape_html(name),
                escape_html(shop_url)
            ),
        ),
    }
}

/// "Reset your password", with the reset link.
pub fn password_reset(shop: &str, name: &str, link: &str, valid_minutes: u64) -> Content {
    Content {
        subject: format!("Reset your {shop} password"),
        text: format!(
            "Hello {name},\n\nSomeone (hopefully you) asked to reset the password of your {shop} \
             account. Choose a new password here:\n\n{link}\n\nThe link works once and expires \
             in {valid_minutes} minutes. If you did not ask, ignore this message: your password \
             stays as it is.\n\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>Someone (hopefully you) asked to reset the password of \
                 your account.</p>\n{}\n<p>The link works once and expires in {valid_minutes} \
                 minutes. If you did not ask, ignore this message: your password stays as it \
                 is.</p>",
                escape_html(name),
                button(link, "Choose a new password")
            ),
        ),
    }
}

/// "Your password was changed", a notice with no link.
pub fn password_changed(shop: &str, name: &str) -> Content {
    Content {
        subject: format!("Your {shop} password was changed"),
        text: format!(
            "Hello {name},\n\nThe password of your {shop} account was just changed, and every \
             other session was signed out. If this was not you, reset your password at once \
             and contact us.\n\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>The password of your account was just changed, and every \
                 other session was signed out.</p>\n<p>If this was not you, reset your password \
                 at once and contact us.</p>",
                escape_html(name)
            ),
        ),
    }
}

/// One line of an order confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLine {
    /// The product's name at the time of the order.
    pub name: String,
    /// Units bought.
    pub quantity: i32,
    /// Price of one unit.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_total: Money,
}

/// "Your order is confirmed", listing the lines and the total.
pub fn order_confirmation(
    shop: &str,
    name: &str,
    order_id: i32,
    lines: &[OrderLine],
    total: Money,
) -> Content {
    let text_lines: String = lines
        .iter()
        .map(|l| {
            format!(
                "  {} × {} @ {} = {}\n",
                l.quantity, l.name, l.unit_price, l.line_total
            )
        })
        .collect();
    let html_rows: String = lines
        .iter()
        .map(|l| {
            format!(
                "<tr><td>{}</td><td align=\"right\">{}</td><td align=\"right\">{}</td>\
                 <td align=\"right\">{}</td></tr>\n",
                escape_html(&l.name),
                l.quantity,
                l.unit_price,
                l.line_total
            )
        })
        .collect();
    Content {
        subject: format!("Your {shop} order #{order_id} is confirmed"),
        text: format!(
            "Hello {name},\n\nThank you for your order #{order_id}. It is paid and we are \
             preparing it.\n\n{text_lines}\nTotal: {total}\n\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>Thank you for your order #{order_id}. It is paid and we \
                 are preparing it.</p>\n<table>\n<tr><th align=\"left\">Product</th><th>Qty</th>\
                 <th>Unit price</th><th>Total</th></tr>\n{html_rows}\
                 <tr><td colspan=\"3\"><b>Total</b></td><td align=\"right\"><b>{total}</b></td>\
                 </tr>\n</table>",
                escape_html(name)
            ),
        ),
    }
}

/// How to follow a shipment; every part optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tracking {
    /// The carrier's name.
    pub carrier: Option<String>,
    /// The carrier's tracking number.
    pub tracking_number: Option<String>,
    /// A page where the shipment can be followed.
    pub tracking_url: Option<String>,
}

/// "Your order has shipped", with the tracking details the admin gave.
pub fn order_shipped(shop: &str, name: &str, order_id: i32, tracking: &Tracking) -> Content {
    let mut text_details = String::new();
    let mut html_details = String::new();
    if let Some(carrier) = &tracking.carrier {
        text_details.push_str(&format!("Carrier: {carrier}\n"));
        html_details.push_str(&format!("<p>Carrier: {}</p>\n", escape_html(carrier)));
    }
    if let Some(number) = &tracking.tracking_number {
        text_details.push_str(&format!("Tracking number: {number}\n"));
        html_details.push_str(&format!(
            "<p>Tracking number: <b>{}</b></p>\n",
            escape_html(number)
        ));
    }
    if let Some(url) = &tracking.tracking_url {
        text_details.push_str(&format!("Follow it here: {url}\n"));
        html_details.push_str(&button(url, "Track your parcel"));
    }
    if !text_details.is_empty() {
        text_details = format!("\n{text_details}");
    }
    Content {
        subject: format!("Your {shop} order #{order_id} has shipped"),
        text: format!(
            "Hello {name},\n\nGood news: your order #{order_id} is on its way.\n\
             {text_details}\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>Good news: your order #{order_id} is on its way.</p>\n\
                 {html_details}",
                escape_html(name)
            ),
        ),
    }
}

/// "Your order was cancelled" (by the shop), with what happens to the payment.
pub fn order_cancelled(shop: &str, name: &str, order_id: i32, total: Money) -> Content {
    Content {
        subject: format!("Your {shop} order #{order_id} was cancelled"),
        text: format!(
            "Hello {name},\n\nWe had to cancel your order #{order_id}. The {total} you paid \
             will be refunded to your original payment method.\n\nIf you did not expect \
             this, please reply to this email.\n\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>We had to cancel your order #{order_id}. The {total} you \
                 paid will be refunded to your original payment method.</p>\n<p>If you did \
                 not expect this, please reply to this email.</p>",
                escape_html(name)
            ),
        ),
    }
}

/// To an admin: a webhook endpoint failed for days and was disabled.
pub fn webhook_disabled(shop: &str, name: &str, url: &str, webhook_id: i32) -> Content {
    Content {
        subject: format!("{shop}: webhook #{webhook_id} was disabled"),
        text: format!(
            "Hello {name},\n\nEvery delivery to the webhook #{webhook_id} ({url}) failed for \
             three days, so it was disabled. Its undelivered events are kept: fix the receiver, \
             then enable it again (PATCH /admin/webhooks/{webhook_id} with \
             {{\"enabled\": true}}).\n\n— {shop}\n"
        ),
        html: layout(
            shop,
            &format!(
                "<p>Hello {},</p>\n<p>Every delivery to the webhook #{webhook_id} \
                 (<code>{}</code>) failed for three days, so it was disabled. Its undelivered \
                 events are kept: fix the receiver, then enable it again (<code>PATCH \
                 /admin/webhooks/{webhook_id}</code> with <code>{{\"enabled\": \
                 true}}</code>).</p>",
                escape_html(name),
                escape_html(url)
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert('x')</script> & \"friends\"";

    #[test]
    fn user_text_is_escaped_in_html_and_kept_in_text() {
        let link = "https://shop.example/auth/verify-email?token=abc&x=1";
        let contents = [
            verification("Shop", HOSTILE, link, 24),
            welcome("Shop", HOSTILE, "https://shop.example"),
            password_reset("Shop", HOSTILE, link, 30),
            password_changed("Shop", HOSTILE),
            order_confirmation(
                "Shop",
                HOSTILE,
                7,
                &[OrderLine {
                    name: HOSTILE.into(),
                    quantity: 2,
                    unit_price: Money::from_cents(1999),
                    line_total: Money::from_cents(3998),
                }],
                Money::from_cents(3998),
            ),
        ];
        for content in &contents {
            assert!(!content.html.contains("<script>"), "{}", content.html);
            assert!(content.html.contains("&lt;script&gt;"), "{}", content.html);
            assert!(
                content.text.contains(HOSTILE),
                "the text part keeps the name as written"
            );
        }
    }

    #[test]
    fn links_appear_in_both_parts() {
        let link = "https://shop.example/auth/verify-email?token=abc_DEF-123";
        let content = verification("Emporium", "Ada", link, 24);
        assert!(content.text.contains(link));
        assert!(content.html.contains(&format!("href=\"{link}\"")));
        assert!(content.subject.contains("Emporium"));
        let content = password_reset("Emporium", "Ada", link, 30);
        assert!(content.text.contains(link) && content.html.contains(link));
        assert!(content.text.contains("30 minutes"));
    }

    #[test]
    fn order_confirmation_lists_lines_and_total() {
        let content = order_confirmation(
            "Emporium",
            "Ada",
            42,
            &[OrderLine {
                name: "Lamp".into(),
                quantity: 3,
                unit_price: Money::from_cents(1999),
                line_total: Money::from_cents(5997),
            }],
            Money::from_cents(5997),
        );
        assert!(content.subject.contains("#42"));
        assert!(content.text.contains("3 × Lamp @ 19.99 = 59.97"));
        assert!(content.text.contains("Total: 59.97"));
        assert!(content.html.contains("59.97"));
    }

    #[test]
    fn shipped_mail_carries_the_tracking_and_escapes_it() {
        let tracking = Tracking {
            carrier: Some("DHL <Express>".into()),
            tracking_number: Some("JD014600006281230704".into()),
            tracking_url: Some("https://track.example/?n=JD01&x=1".into()),
        };
        let content = order_shipped("Emporium", "Ada", 7, &tracking);
        assert!(content.subject.contains("#7") && content.subject.contains("shipped"));
        assert!(content.text.contains("Carrier: DHL <Express>"));
        assert!(
            content
                .text
                .contains("Tracking number: JD014600006281230704")
        );
        assert!(content.text.contains("https://track.example/?n=JD01&x=1"));
        assert!(content.html.contains("DHL &lt;Express&gt;"));
        assert!(
            content
                .html
                .contains("href=\"https://track.example/?n=JD01&amp;x=1\"")
        );
        let bare = order_shipped("Emporium", "Ada", 7, &Tracking::default());
        assert!(!bare.text.contains("Carrier") && !bare.text.contains("Tracking"));
    }

    #[test]
    fn cancelled_and_webhook_mails_name_what_happened() {
        let content = order_cancelled("Emporium", "Ada", 9, Money::from_cents(1250));
        assert!(content.subject.contains("#9") && content.text.contains("12.50"));
        let content = webhook_disabled("Emporium", "Root", "https://erp.example/<hook>", 3);
        assert!(content.subject.contains("#3"));
        assert!(content.text.contains("https://erp.example/<hook>"));
        assert!(content.html.contains("https://erp.example/&lt;hook&gt;"));
    }
}
