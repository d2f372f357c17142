-- +goose Up
-- Searching by a part of a name or company (ILIKE '%x%') cannot use a
-- b-tree: without these, a search of an organization of 100,000
-- candidates reads every one of them (docs/benchmarks.md). pg_trgm is a
-- trusted extension: a role with CREATE on the database may add it. It goes into this
-- service's schema (the first of the search_path), where its queries find it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX candidates_name_trgm ON candidates USING gin (name gin_trgm_ops) WHERE deleted_at IS NULL AND merged_into IS NULL;
CREATE INDEX candidates_company_trgm ON candidates USING gin (company gin_trgm_ops) WHERE deleted_at IS NULL AND merged_into IS NULL;

-- +goose Down
DROP INDEX candidates_company_trgm;
DROP INDEX candidates_name_trgm;
DROP EXTENSION pg_trgm;
