-- Every event adds a row to history_event; its B-tree on at_ms (only Prune reads it) cost a
-- second index insertion per event. Rows arrive in about time order, so a BRIN index (a
-- summary per block range, updated when a range fills) finds the old ones for Prune just as
-- well at a fraction of the cost per insertion.
DROP INDEX history_event_prune;
CREATE INDEX history_event_prune ON history_event USING brin (at_ms);
