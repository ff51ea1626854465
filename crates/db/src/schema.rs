// @generated automatically by Diesel CLI.

diesel::table! {
    addresses (id) {
        id -> Integer,
        user_id -> Integer,
        name -> Text,
        line1 -> Text,
        line2 -> Nullable<Text>,
        city -> Text,
        region -> Nullable<Text>,
        postal_code -> Text,
        country -> Text,
        phone -> Nullable<Text>,
        is_default -> Bool,
        created_at -> Timestamp,
    }
}

diesel::table! {
    cart_items (user_id, product_id) {
        user_id -> Integer,
        product_id -> Integer,
        quantity -> Integer,
        added_at -> Timestamp,
    }
}

diesel::table! {
    catalog_version (id) {
        id -> Integer,
        version -> BigInt,
    }
}

diesel::table! {
    email_tokens (id) {
        id -> Integer,
        user_id -> Integer,
        purpose -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    idempotency_keys (user_id, idempotency_key) {
        user_id -> Integer,
        idempotency_key -> Text,
        cart_fingerprint -> Text,
        order_id -> Integer,
        response_status -> Integer,
        response_body -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Integer,
        scope -> Text,
        subject -> Text,
        failed_at -> Timestamp,
    }
}

diesel::table! {
    mail_requests (id) {
        id -> Integer,
        client -> Text,
        requested_at -> Timestamp,
    }
}

diesel::table! {
    mail_suppressions (kind) {
        kind -> Text,
        suppressed -> BigInt,
    }
}

diesel::table! {
    order_items (id) {
        id -> Integer,
        order_id -> Integer,
        product_id -> Nullable<Integer>,
        product_name -> Text,
        unit_price_cents -> BigInt,
        quantity -> Integer,
        line_total_cents -> BigInt,
    }
}

diesel::table! {
    orders (id) {
        id -> Integer,
        user_id -> Integer,
        status -> Text,
        total_cents -> BigInt,
        item_count -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        shipping_address -> Nullable<Text>,
        carrier -> Nullable<Text>,
        tracking_number -> Nullable<Text>,
        tracking_url -> Nullable<Text>,
    }
}

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

diesel::table! {
    products (id) {
        id -> Integer,
        name -> Text,
        name_key -> Text,
        description -> Text,
        price_cents -> BigInt,
        stock -> Integer,
        category -> Text,
        category_key -> Text,
        image_url -> Nullable<Text>,
        owner_id -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        in_stock -> Bool,
    }
}

diesel::table! {
    sessions (id) {
        id -> Integer,
        user_id -> Integer,
        refresh_jti -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    shared_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Integer,
        name -> Text,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        is_active -> Bool,
        email_verified -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> Integer,
        endpoint_id -> Integer,
        event_id -> Integer,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_response_code -> Nullable<Integer>,
        last_response_body -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Integer,
        url -> Text,
        events -> Text,
        description -> Nullable<Text>,
        enabled -> Bool,
        secret -> Text,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_events (id) {
        id -> Integer,
        event_type -> Text,
        body -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(addresses -> users (user_id));
diesel::joinable!(cart_items -> products (product_id));
diesel::joinable!(cart_items -> users (user_id));
diesel::joinable!(email_tokens -> users (user_id));
diesel::joinable!(idempotency_keys -> orders (order_id));
diesel::joinable!(idempotency_keys -> users (user_id));
diesel::joinable!(order_items -> orders (order_id));
diesel::joinable!(order_items -> products (product_id));
diesel::joinable!(orders -> users (user_id));
diesel::joinable!(products -> users (owner_id));
diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> webhook_events (event_id));

diesel::allow_tables_to_appear_in_same_query!(
    addresses,
    cart_items,
    catalog_version,
    email_tokens,
    idempotency_keys,
    login_failures,
    mail_requests,
    mail_suppressions,
    order_items,
    orders,
    outbox,
    products,
    sessions,
    shared_secrets,
    users,
    webhook_deliveries,
    webhook_endpoints,
    webhook_events,
);
