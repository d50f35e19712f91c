-- The last value of every minute, packed per counter and hour: a trend or a prediction by
-- minute reads one row per hour (8,760 for a year) instead of one per minute (525,600).
-- Derived from history_minute, which stays the record of every minute, and changed in the
-- same statements (postgres_history_store.cpp). Slot i (1..60) holds the last value of
-- minute i - 1 of the hour, NULL when that minute has no data.
CREATE TABLE history_hour_minutes (
  count_id    text COLLATE "C" NOT NULL,
  hour_ms     bigint NOT NULL,  -- start of the hour, epoch ms
  last_values bigint[] NOT NULL CHECK (array_ndims(last_values) = 1
                                       AND array_lower(last_values, 1) = 1
                                       AND array_length(last_values, 1) = 60),
  PRIMARY KEY (count_id, hour_ms)
);
CREATE INDEX history_hour_minutes_prune ON history_hour_minutes (hour_ms);

-- The 60 slots of an hour from its minutes with data: slots[k] (1..60) holds vals[k].
CREATE FUNCTION history_minute_slots(slots int[], vals bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT array_agg(u.v ORDER BY g.i)
  FROM generate_series(1, 60) AS g(i) LEFT JOIN unnest(slots, vals) AS u(s, v) ON u.s = g.i
$$;

-- `old` with every slot that `patch` fills replaced by the patch's value.
CREATE FUNCTION history_patch_slots(old bigint[], patch bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT array_agg(coalesce(u.p, u.o) ORDER BY u.i)
  FROM unnest(old, patch) WITH ORDINALITY AS u(o, p, i)
$$;

-- The history recorded so far, packed.
INSERT INTO history_hour_minutes (count_id, hour_ms, last_values)
SELECT count_id, hour_ms, history_minute_slots(array_agg(((minute_ms - hour_ms) / 60000 + 1)::int),
                                               array_agg(last_value))
FROM (SELECT count_id, minute_ms, last_value,
             minute_ms - (((minute_ms % 3600000) + 3600000) % 3600000) AS hour_ms
      FROM history_minute) AS m
GROUP BY count_id, hour_ms;
