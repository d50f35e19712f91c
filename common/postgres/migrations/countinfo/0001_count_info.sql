-- CountInfoDB: the system of record for counter information (docs/ARCHITECTURE.md, "Stores and
-- their roles").
-- id is compared byte-wise (COLLATE "C"), so ORDER BY id and the prefix search
-- `id LIKE 'p%'` are both served by the primary key index.
CREATE TABLE count_info (
  id          text COLLATE "C" PRIMARY KEY
              CONSTRAINT count_info_id_rule CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  description text NOT NULL DEFAULT ''
              CONSTRAINT count_info_description_length CHECK (char_length(description) <= 1024),
  min_value   bigint,
  max_value   bigint,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT count_info_bounds CHECK (min_value IS NULL OR max_value IS NULL OR min_value <= max_value)
);
