"""The hub's database schema (components ``hub`` and ``hub-auth`` of the store's migrations)."""

from edge.hub.auth import MIGRATIONS as AUTH_MIGRATIONS

MIGRATIONS = {
    "hub": [
        """
        CREATE TABLE nodes (
            node_id TEXT PRIMARY KEY,
            public_key TEXT NOT NULL,
            name TEXT NOT NULL,
            site TEXT NOT NULL,
            roles TEXT NOT NULL,
            version TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'revoked')),
            token_id TEXT,
            enrolled_at TEXT NOT NULL,
            decided_at TEXT,
            decided_by TEXT,
            address TEXT,
            port INTEGER,
            online INTEGER NOT NULL DEFAULT 0,
            last_seen TEXT,
            last_seen_ts REAL,
            health TEXT,
            clock_offset_s REAL
        );
        CREATE TABLE tokens (
            token_id TEXT PRIMARY KEY,
            secret TEXT NOT NULL,
            site TEXT NOT NULL,
            role TEXT NOT NULL,
            pre_approved INTEGER NOT NULL DEFAULT 0,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            expires_ts REAL NOT NULL,
            used_at TEXT,
            used_by TEXT
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            node_id TEXT NOT NULL,
            msg_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            priority INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            received_at TEXT NOT NULL,
            payload TEXT NOT NULL,
            UNIQUE (node_id, msg_id)
        );
        CREATE INDEX events_kind ON events (kind, id);
        CREATE TABLE nonces (
            node_id TEXT NOT NULL,
            nonce TEXT NOT NULL,
            ts REAL NOT NULL,
            PRIMARY KEY (node_id, nonce)
        ) WITHOUT ROWID;
        CREATE INDEX nonces_ts ON nonces (ts);
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            dedup_key TEXT NOT NULL,
            node_id TEXT,
            site TEXT,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('critical', 'warning', 'info')),
            message TEXT NOT NULL,
            message_en TEXT NOT NULL DEFAULT '',
            raised_at TEXT NOT NULL,
            cleared_at TEXT,
            acked_at TEXT,
            acked_by TEXT
        );
        CREATE UNIQUE INDEX alerts_open ON alerts (dedup_key) WHERE cleared_at IS NULL;
        CREATE TABLE discovered (
            node_id TEXT PRIMARY KEY,
            instance TEXT NOT NULL,
            roles TEXT NOT NULL,
            version TEXT NOT NULL,
            addresses TEXT NOT NULL,
            port INTEGER NOT NULL,
            seen_at TEXT NOT NULL
        );
        CREATE TABLE admin_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        );
        """,
        """
        ALTER TABLE alerts ADD COLUMN resolved_by TEXT;
        CREATE TABLE notify_deliveries (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts (id),
            change TEXT NOT NULL CHECK (change IN ('raised', 'cleared')),
            channel TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_ts REAL NOT NULL DEFAULT 0,
            delivered_at TEXT,
            last_error TEXT,
            UNIQUE (alert_id, change, channel)
        );
        CREATE INDEX notify_due ON notify_deliveries (next_ts) WHERE delivered_at IS NULL;
        """,
    ],
    "hub-auth": AUTH_MIGRATIONS,
}
