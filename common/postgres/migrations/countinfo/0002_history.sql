-- History (UC-004): rollups per counter and minute, fed by events and by imports, and the
-- same per hour, maintained in the same statements. A minute series reads minutes; longer
-- units read whole hours (60 times fewer rows) plus the minutes at the period's edges.
-- Times are epoch milliseconds (UTC): bucket arithmetic is integer arithmetic and rows
-- cross the wire without date parsing.
CREATE TABLE history_minute (
  count_id   text COLLATE "C" NOT NULL,
  minute_ms  bigint NOT NULL,  -- start of the minute
  last_value bigint NOT NULL,  -- value of the latest change in the minute
  last_at_ms bigint NOT NULL,  -- time of that change
  sum_delta  bigint NOT NULL,  -- sum of the deltas (saturating at the bigint limits)
  min_value  bigint NOT NULL,
  max_value  bigint NOT NULL,
  -- Covering: a series is an index-only scan of one contiguous key range.
  PRIMARY KEY (count_id, minute_ms) INCLUDE (last_value, sum_delta, min_value, max_value)
);
CREATE INDEX history_minute_prune ON history_minute (minute_ms);

CREATE TABLE history_hour (
  count_id   text COLLATE "C" NOT NULL,
  hour_ms    bigint NOT NULL,  -- start of the hour
  last_value bigint NOT NULL,
  last_at_ms bigint NOT NULL,
  sum_delta  bigint NOT NULL,
  min_value  bigint NOT NULL,
  max_value  bigint NOT NULL,
  PRIMARY KEY (count_id, hour_ms) INCLUDE (last_value, sum_delta, min_value, max_value)
);
CREATE INDEX history_hour_prune ON history_hour (hour_ms);

-- Event ids already folded into the rollups, so a redelivery never counts twice.
CREATE TABLE history_event (
  event_id text COLLATE "C" PRIMARY KEY,
  at_ms    bigint NOT NULL
);
CREATE INDEX history_event_prune ON history_event (at_ms);

-- Imported points already folded into the rollups, so a re-import changes nothing.
CREATE TABLE history_import (
  count_id text COLLATE "C" NOT NULL,
  at_ms    bigint NOT NULL,
  PRIMARY KEY (count_id, at_ms)
);
CREATE INDEX history_import_prune ON history_import (at_ms);
