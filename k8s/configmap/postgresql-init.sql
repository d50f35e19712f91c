-- Creates the databases countinfo and dashboardconfig (docs/ARCHITECTURE.md, "Stores and their
-- roles") where missing; running it again changes nothing.
-- PostgreSQL has no CREATE DATABASE IF NOT EXISTS (the seed's script fails) and CREATE
-- DATABASE cannot run in a DO block or function, so each statement is generated only for a
-- missing database and run by psql's \gexec. Used by jobs/postgresql-init.yaml (through the
-- ConfigMap postgresql-init, generated in kustomization.yaml) and by compose.yaml;
-- scripts/check-deploy.sh runs it twice on a real server.
SELECT format('CREATE DATABASE %I', name)
  FROM unnest(ARRAY['countinfo', 'dashboardconfig']) AS name
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = name)
\gexec
