-- Accounts. Emails are stored normalised (trimmed, lower-case), so UNIQUE is case-insensitive.
CREATE TABLE users (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    -- Argon2id PHC string, or a bcrypt hash carried over from the FastAPI shop until the
    -- user's next signin replaces it.
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    is_active BOOLEAN NOT NULL DEFAULT 1,
    email_verified BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_created ON users (created_at, id);

-- One row per signin. Access tokens name their session, so revoking the row revokes them at
-- once; refresh_jti is the id of the one refresh token that may still be used.
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    refresh_jti TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);
CREATE INDEX sessions_user ON sessions (user_id, revoked_at);

-- Single-use tokens sent by email, stored only as SHA-256.
CREATE TABLE email_tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'reset_password')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX email_tokens_user ON email_tokens (user_id, purpose, used_at);

-- Failed signins, per email and per client address, for throttling.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('email', 'ip')),
    subject TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (scope, subject, failed_at);
CREATE INDEX login_failures_age ON login_failures (failed_at);
