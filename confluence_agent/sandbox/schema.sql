-- Schema of the Confluence sandbox (SQLite). Ids are integers here and strings on the wire.
-- Pages and comments share one id sequence, as Confluence content ids do.

CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS users (
    account_id   TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    email        TEXT NOT NULL,
    api_token    TEXT NOT NULL,
    bearer_token TEXT,
    is_admin     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS users_email ON users (email);

CREATE TABLE IF NOT EXISTS spaces (
    id           INTEGER PRIMARY KEY,
    key          TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    type         TEXT NOT NULL DEFAULT 'global',
    status       TEXT NOT NULL DEFAULT 'current',
    homepage_id  INTEGER,
    created_at   TEXT NOT NULL,
    author_id    TEXT,
    -- 1 = everyone may read / write; otherwise the space_perms rows decide.
    public_read  INTEGER NOT NULL DEFAULT 1,
    public_write INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE IF NOT EXISTS space_perms (
    space_id   INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    perm       TEXT NOT NULL CHECK (perm IN ('read', 'write')),
    PRIMARY KEY (space_id, account_id, perm)
);

-- Current state of every page; the full history is in `versions`.
CREATE TABLE IF NOT EXISTS pages (
    id          INTEGER PRIMARY KEY,
    type        TEXT NOT NULL DEFAULT 'page',
    space_id    INTEGER NOT NULL,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'current',
    parent_id   INTEGER,
    position    INTEGER NOT NULL DEFAULT 0,
    author_id   TEXT NOT NULL,
    owner_id    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    version     INTEGER NOT NULL,
    modified_at TEXT NOT NULL,
    modifier_id TEXT NOT NULL,
    body        TEXT NOT NULL,
    body_text   TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS pages_space_title ON pages (space_id, title COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS pages_parent ON pages (parent_id);
CREATE INDEX IF NOT EXISTS pages_modified ON pages (modified_at);

CREATE TABLE IF NOT EXISTS versions (
    page_id    INTEGER NOT NULL,
    number     INTEGER NOT NULL,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL,
    author_id  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    message    TEXT NOT NULL DEFAULT '',
    minor_edit INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (page_id, number)
);
CREATE INDEX IF NOT EXISTS versions_author ON versions (author_id);

CREATE TABLE IF NOT EXISTS labels (
    id     INTEGER PRIMARY KEY,
    name   TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL DEFAULT 'global'
);

CREATE TABLE IF NOT EXISTS page_labels (
    page_id  INTEGER NOT NULL,
    label_id INTEGER NOT NULL,
    PRIMARY KEY (page_id, label_id)
);
CREATE INDEX IF NOT EXISTS page_labels_label ON page_labels (label_id);

CREATE TABLE IF NOT EXISTS properties (
    id      INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL,
    key     TEXT NOT NULL,
    value   TEXT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    -- NULL for seeded properties: they date from the page's last edit.
    modified_at TEXT,
    UNIQUE (page_id, key)
);

CREATE TABLE IF NOT EXISTS comments (
    id         INTEGER PRIMARY KEY,
    page_id    INTEGER NOT NULL,
    body       TEXT NOT NULL,
    author_id  TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'current',
    version    INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS comments_page ON comments (page_id);

-- Macro names and mentioned account ids of each page's current body, so the CQL fields
-- `macro` and `mention` are index look-ups rather than a scan of every body.
CREATE TABLE IF NOT EXISTS page_refs (
    kind    TEXT NOT NULL CHECK (kind IN ('macro', 'mention')),
    value   TEXT NOT NULL,
    page_id INTEGER NOT NULL,
    PRIMARY KEY (kind, value, page_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS page_refs_page ON page_refs (page_id);

-- Full-text index over title, body text (tags stripped) and labels; rowid = page id.
CREATE VIRTUAL TABLE IF NOT EXISTS content_fts USING fts5 (
    title, body, labels, tokenize = 'porter unicode61 remove_diacritics 2'
);
