// @generated automatically by Diesel CLI.

diesel::table! {
    outbox (id) {
        id -> Integer,
        kind -> Text,
        to_email -> Text,
        to_name -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
    }
}
