-- The board's sign-in (web/): one-time login links and browser sessions. Like api_tokens,
-- both keep only the SHA-256 of their secret. A session acts as its token's principal and
-- is checked against the token on every page, so revoking the token ends its sessions.
CREATE TABLE web_login_links (
    link_hash   text PRIMARY KEY,
    token_id    text NOT NULL REFERENCES api_tokens (token_id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    -- Set once, by the first visit: a link is good for one sign-in.
    used_at     timestamptz
);

CREATE TABLE web_sessions (
    session_hash text PRIMARY KEY,
    token_id     text NOT NULL REFERENCES api_tokens (token_id),
    -- The synchroniser token every form of this session carries.
    csrf_token   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    ended_at     timestamptz
);
CREATE INDEX web_sessions_token ON web_sessions (token_id);
