-- A hot counter (docs/API.md, "Hot counters"): chosen at creation and never changed, so the
-- column only ever takes its value from the INSERT; every existing counter is not sharded.
ALTER TABLE count_info ADD COLUMN sharded boolean NOT NULL DEFAULT false;
