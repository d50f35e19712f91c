-- The two functions that keep history_hour_minutes (0003) run for every counter-hour a batch
-- of events touches. As SQL functions (a join, a sort and an aggregate over 60 rows per call)
-- they cost about 50 µs a call, more than the rest of the rollup per batch; the same in
-- PL/pgSQL, writing only the slots that change, costs about 3 µs (docs/BENCHMARKS.md,
-- "Cheaper per event"). Same signatures, same results.

-- The 60 slots of an hour from its minutes with data: slots[k] (1..60) holds vals[k].
CREATE OR REPLACE FUNCTION history_minute_slots(slots int[], vals bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  r bigint[] := array_fill(NULL::bigint, ARRAY[60]);
BEGIN
  FOR k IN 1 .. coalesce(cardinality(slots), 0) LOOP
    r[slots[k]] := vals[k];
  END LOOP;
  RETURN r;
END
$$;

-- `old` with every slot that `patch` fills replaced by the patch's value.
CREATE OR REPLACE FUNCTION history_patch_slots(old bigint[], patch bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  r bigint[] := old;
BEGIN
  FOR i IN 1 .. coalesce(cardinality(patch), 0) LOOP
    IF patch[i] IS NOT NULL THEN
      r[i] := patch[i];
    END IF;
  END LOOP;
  RETURN r;
END
$$;
