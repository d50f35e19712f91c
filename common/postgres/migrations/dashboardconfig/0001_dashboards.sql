-- DashboardConfigDB (UC-005): the dashboard configurations dashboard-provision-service
-- keeps and dashboard-update-service reads. A dashboard's widgets are one JSON array
-- (core::EncodeWidgets): they are always read and written whole, with their dashboard.
-- id is compared byte-wise (COLLATE "C"), so ORDER BY id is served by the primary key.
CREATE TABLE dashboard (
  id         text COLLATE "C" PRIMARY KEY
             CONSTRAINT dashboard_id_rule CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$'),
  name       text NOT NULL
             CONSTRAINT dashboard_name_length CHECK (char_length(name) BETWEEN 1 AND 200),
  widgets    jsonb NOT NULL DEFAULT '[]'
             CONSTRAINT dashboard_widgets_array CHECK (jsonb_typeof(widgets) = 'array'),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
