-- The shipped ledger: every replica's SQLite rows, each tagged with the ledger it came from
-- (`ledger_id`, from the file's `ledger_meta`) and its row id there (`source_id`).
--
-- Rows are only inserted, never updated: a shipper inserts a batch with ON CONFLICT DO
-- NOTHING, so a retried batch adds nothing, and no row is hot. What a ledger has shipped is
-- read back from the rows themselves (the largest `source_id` of its `ledger_id`), so there is
-- no progress counter to update or to drift. Column meanings: dashboards/README.md, Ledger.

CREATE TABLE requests (
    ledger_id          TEXT             NOT NULL,
    source_id          BIGINT           NOT NULL,
    request_id         TEXT             NOT NULL,
    ts_ms              BIGINT           NOT NULL,
    tenant             TEXT             NOT NULL,
    route              TEXT             NOT NULL,
    backend            TEXT,
    model              TEXT,
    zone               TEXT,
    data_class         TEXT             NOT NULL,
    decision           TEXT             NOT NULL,
    stream             BIGINT           NOT NULL,
    prompt_tokens      BIGINT           NOT NULL,
    completion_tokens  BIGINT           NOT NULL,
    cached_tokens      BIGINT           NOT NULL,
    estimated          BIGINT           NOT NULL,
    cost_usd           DOUBLE PRECISION,
    compute_usd        DOUBLE PRECISION,
    currency           TEXT             NOT NULL,
    price_version      TEXT             NOT NULL,
    duration_ms        DOUBLE PRECISION NOT NULL,
    ttft_ms            DOUBLE PRECISION,
    status             BIGINT           NOT NULL,
    outcome            TEXT             NOT NULL,
    error_class        TEXT,
    attempts           BIGINT           NOT NULL,
    detected_kinds     TEXT             NOT NULL,
    refused_rules      TEXT             NOT NULL,
    attempt_zones      TEXT             NOT NULL,
    endpoint           TEXT             NOT NULL,
    cache_write_tokens BIGINT           NOT NULL,
    token_source       TEXT             NOT NULL,
    api_equivalent_usd DOUBLE PRECISION,
    failed_usd         DOUBLE PRECISION NOT NULL,
    attempt_log        TEXT             NOT NULL,
    prev_hash          TEXT,
    row_hash           TEXT,
    -- Also the index a shipper's "what have I shipped" query reads backwards.
    PRIMARY KEY (ledger_id, source_id),
    UNIQUE (request_id)
);
CREATE INDEX requests_ts ON requests (ts_ms);

-- A row whose request id another ledger shipped first (two replicas cannot normally give one
-- id twice: their ids start with a random prefix each). Kept here rather than dropped, so the
-- row is not lost and its ledger's shipping moves on; `tollgate audit verify` counts them.
CREATE TABLE request_id_conflicts (
    LIKE requests,
    PRIMARY KEY (ledger_id, source_id)
);

-- One line per backend priced by the hour per period, as in SQLite. A period written again
-- there gets a new row id, and is shipped again onto its line: once an hour per backend at
-- most, so never hot.
CREATE TABLE idle (
    ledger_id          TEXT             NOT NULL,
    source_id          BIGINT           NOT NULL,
    backend            TEXT             NOT NULL,
    period_start_ms    BIGINT           NOT NULL,
    period_end_ms      BIGINT           NOT NULL,
    busy_s             DOUBLE PRECISION NOT NULL,
    idle_s             DOUBLE PRECISION NOT NULL,
    cost_usd           DOUBLE PRECISION NOT NULL,
    cost_per_hour      DOUBLE PRECISION NOT NULL,
    energy_per_hour    DOUBLE PRECISION NOT NULL,
    currency           TEXT             NOT NULL,
    price_version      TEXT             NOT NULL,
    PRIMARY KEY (ledger_id, backend, period_start_ms)
);
CREATE INDEX idle_source ON idle (ledger_id, source_id);
CREATE INDEX idle_start ON idle (period_start_ms);
