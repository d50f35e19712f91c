-- History (UC-004): one row per counter and minute, fed by events and by imports; hours,
-- days, weeks and months are derived from these rows at query time.
-- Times are epoch milliseconds (UTC) so bucket arithmetic is integer arithmetic and rows
-- cross the wire without date parsing.
CREATE TABLE history_minute (
  count_id   text COLLATE "C" NOT NULL,
  minute_ms  bigint NOT NULL,  -- start of the minute
  last_value bigint NOT NULL,  -- value of the latest change in the minute
  last_at_ms bigint NOT NULL,  -- time of that change
  sum_delta  bigint NOT NULL,  -- sum of the deltas (saturating at the bigint limits)
  min_value  bigint NOT NULL,
  max_value  bigint NOT NULL,
  PRIMARY KEY (count_id, minute_ms)
) WITH (fillfactor = 90);  -- room for HOT updates: no indexed column ever changes
CREATE INDEX history_minute_prune ON history_minute (minute_ms);

-- Event ids already folded into history_minute, so a redelivery never counts twice.
CREATE TABLE history_event (
  event_id text COLLATE "C" PRIMARY KEY,
  at_ms    bigint NOT NULL
);
CREATE INDEX history_event_prune ON history_event (at_ms);

-- Imported points already folded into history_minute, so a re-import changes nothing.
CREATE TABLE history_import (
  count_id text COLLATE "C" NOT NULL,
  at_ms    bigint NOT NULL,
  PRIMARY KEY (count_id, at_ms)
);
CREATE INDEX history_import_prune ON history_import (at_ms);
