-- The board's plan import (web/imports.py): a document uploaded for its parse preview is
-- kept here until the coordinator commits it (确认导入) or downloads its editable 台账, so
-- the browser never sends it twice. Only the token that uploaded it may use it; rows older
-- than a day are ignored and pruned at the next upload.
CREATE TABLE web_uploads (
    upload_id   text PRIMARY KEY,
    token_id    text NOT NULL REFERENCES api_tokens (token_id),
    file_name   text NOT NULL,
    -- The plan id the coordinator asked for; NULL: the default, from the file name.
    plan_id     text,
    content     bytea NOT NULL,
    sha256      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX web_uploads_created ON web_uploads (created_at);
