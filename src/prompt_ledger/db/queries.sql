-- Every SQL statement PromptLedger runs, as named queries (the procrastinate habit).
-- A query starts with a "-- name --" line, then a one-line description, then its SQL.
-- Parameters use psycopg's %(name)s style. tests/integration/test_queries.py prepares each one
-- against the migrated schema, so a query and the schema can never drift apart unnoticed.

-- ping --
-- Cheapest round trip that proves the database answers
SELECT 1 AS ok;

-- lookup_api_key --
-- Find a live key by the SHA-256 of its secret
SELECT key_id, project_id, scopes, last_used_at
FROM api_keys
WHERE key_hash = %(key_hash)s AND revoked_at IS NULL;

-- touch_api_key --
-- Record use of a key, at most once a minute (no write per request)
UPDATE api_keys SET last_used_at = now()
WHERE key_id = %(key_id)s
  AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds');

-- insert_project --
-- Create a project
INSERT INTO projects (name) VALUES (%(name)s)
RETURNING project_id, name, created_at;

-- list_projects --
-- Projects in name order, after a cursor
SELECT project_id, name, created_at FROM projects
WHERE %(after)s::text IS NULL OR name > %(after)s::text
ORDER BY name LIMIT %(limit)s;

-- get_project --
-- One project by id
SELECT project_id, name, created_at FROM projects WHERE project_id = %(project_id)s;

-- insert_api_key --
-- Store a new key (hash only)
INSERT INTO api_keys (project_id, name, prefix, key_hash, scopes)
VALUES (%(project_id)s, %(name)s, %(prefix)s, %(key_hash)s, %(scopes)s)
RETURNING key_id, project_id, name, prefix, scopes, created_at, last_used_at, revoked_at;

-- list_api_keys --
-- A project's keys, newest first, after a cursor
SELECT key_id, project_id, name, prefix, scopes, created_at, last_used_at, revoked_at
FROM api_keys
WHERE project_id = %(project_id)s
  AND (%(after)s::timestamptz IS NULL OR created_at < %(after)s::timestamptz)
ORDER BY created_at DESC LIMIT %(limit)s;

-- revoke_api_key --
-- Revoke a key of a project (idempotent: the first revocation time is kept)
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
WHERE project_id = %(project_id)s AND key_id = %(key_id)s
RETURNING key_id, project_id, name, prefix, scopes, created_at, last_used_at, revoked_at;

-- upsert_prompt --
-- Create the prompt or lock the existing one; description/owner_team change only when given
INSERT INTO prompts AS p (project_id, name, mode, description, owner_team)
VALUES (%(project_id)s, %(name)s, %(mode)s, %(description)s, %(owner_team)s)
ON CONFLICT (project_id, name) DO UPDATE
SET description = COALESCE(EXCLUDED.description, p.description),
    owner_team = COALESCE(EXCLUDED.owner_team, p.owner_team),
    updated_at = CASE
        WHEN (EXCLUDED.description IS NOT NULL AND EXCLUDED.description IS DISTINCT FROM p.description)
          OR (EXCLUDED.owner_team IS NOT NULL AND EXCLUDED.owner_team IS DISTINCT FROM p.owner_team)
        THEN now() ELSE p.updated_at END
RETURNING p.*;

-- get_prompt --
-- One prompt of a project by name
SELECT * FROM prompts WHERE project_id = %(project_id)s AND name = %(name)s;

-- lock_prompt --
-- Lock a prompt row for a read-modify-write
SELECT * FROM prompts WHERE project_id = %(project_id)s AND name = %(name)s FOR UPDATE;

-- find_version_by_checksum --
-- The version of a prompt with exactly this content, if any
SELECT * FROM prompt_versions WHERE prompt_id = %(prompt_id)s AND checksum_hash = %(checksum)s;

-- insert_version --
-- Append the next version of a prompt (the caller holds the prompt's row lock)
INSERT INTO prompt_versions (prompt_id, version_number, kind, template_source, messages,
                             model_defaults, variables, checksum_hash, status, created_by,
                             commit_message)
SELECT %(prompt_id)s, COALESCE(MAX(version_number), 0) + 1, %(kind)s, %(template_source)s,
       %(messages)s, %(model_defaults)s, %(variables)s, %(checksum)s, 'draft', %(created_by)s,
       %(commit_message)s
FROM prompt_versions WHERE prompt_id = %(prompt_id)s
RETURNING *;

-- activate_version --
-- Make a version the prompt's active one; the previous active version becomes a draft
WITH statuses AS (
    UPDATE prompt_versions
    SET status = CASE WHEN version_id = %(version_id)s THEN 'active' ELSE 'draft' END
    WHERE prompt_id = %(prompt_id)s
      AND (version_id = %(version_id)s OR status = 'active')
    RETURNING version_id
)
UPDATE prompts SET active_version_id = %(version_id)s, updated_at = now()
WHERE prompt_id = %(prompt_id)s
RETURNING *;

-- archive_version --
-- Archive a version (never the active one: the service checks)
UPDATE prompt_versions SET status = 'archived'
WHERE prompt_id = %(prompt_id)s AND version_id = %(version_id)s
RETURNING *;

-- resolve_prompt --
-- A prompt and the version chosen by label, by number, or else its active version
SELECT to_jsonb(p) AS prompt,
       to_jsonb(v) AS version,
       (SELECT coalesce(jsonb_object_agg(l.label, lv.version_number), '{}'::jsonb)
          FROM prompt_labels l JOIN prompt_versions lv ON lv.version_id = l.version_id
         WHERE l.prompt_id = p.prompt_id) AS labels
FROM prompts p
LEFT JOIN prompt_versions v ON v.prompt_id = p.prompt_id AND v.version_id = (
    CASE
        WHEN %(label)s::text IS NOT NULL THEN
            (SELECT l.version_id FROM prompt_labels l
              WHERE l.prompt_id = p.prompt_id AND l.label = %(label)s::text)
        WHEN %(version_number)s::int IS NOT NULL THEN
            (SELECT x.version_id FROM prompt_versions x
              WHERE x.prompt_id = p.prompt_id AND x.version_number = %(version_number)s::int)
        ELSE p.active_version_id
    END)
WHERE p.project_id = %(project_id)s AND p.name = %(name)s;

-- list_prompts --
-- A project's prompts in name order, filtered, after a cursor
SELECT p.*,
       (SELECT coalesce(jsonb_object_agg(l.label, lv.version_number), '{}'::jsonb)
          FROM prompt_labels l JOIN prompt_versions lv ON lv.version_id = l.version_id
         WHERE l.prompt_id = p.prompt_id) AS labels,
       (SELECT v.version_number FROM prompt_versions v
         WHERE v.version_id = p.active_version_id) AS active_version_number
FROM prompts p
WHERE p.project_id = %(project_id)s
  AND (%(owner_team)s::text IS NULL OR p.owner_team = %(owner_team)s::text)
  AND (%(mode)s::text IS NULL OR p.mode = %(mode)s::text)
  AND (%(search)s::text IS NULL OR strpos(lower(p.name), lower(%(search)s::text)) > 0)
  AND (%(label)s::text IS NULL OR EXISTS (
        SELECT 1 FROM prompt_labels l WHERE l.prompt_id = p.prompt_id AND l.label = %(label)s::text))
  AND (%(after)s::text IS NULL OR p.name > %(after)s::text)
ORDER BY p.name
LIMIT %(limit)s;

-- list_versions --
-- A prompt's versions, newest first, before a cursor
SELECT * FROM prompt_versions
WHERE prompt_id = %(prompt_id)s
  AND (%(before)s::int IS NULL OR version_number < %(before)s::int)
ORDER BY version_number DESC
LIMIT %(limit)s;

-- get_version --
-- One version of a prompt by number
SELECT * FROM prompt_versions WHERE prompt_id = %(prompt_id)s AND version_number = %(version_number)s;

-- list_labels --
-- A prompt's labels with the version number each points at
SELECT l.label, v.version_number, l.version_id, l.updated_by, l.updated_at
FROM prompt_labels l JOIN prompt_versions v ON v.version_id = l.version_id
WHERE l.prompt_id = %(prompt_id)s
ORDER BY l.label;

-- lock_label --
-- The label's current target, locked for a move
SELECT version_id FROM prompt_labels
WHERE prompt_id = %(prompt_id)s AND label = %(label)s FOR UPDATE;

-- upsert_label --
-- Point a label at a version
INSERT INTO prompt_labels (prompt_id, label, version_id, updated_by)
VALUES (%(prompt_id)s, %(label)s, %(version_id)s, %(actor)s)
ON CONFLICT (prompt_id, label) DO UPDATE
SET version_id = EXCLUDED.version_id, updated_by = EXCLUDED.updated_by, updated_at = now();

-- delete_label --
-- Remove a label
DELETE FROM prompt_labels WHERE prompt_id = %(prompt_id)s AND label = %(label)s
RETURNING version_id;

-- labels_on_version --
-- Labels that point at a version
SELECT label FROM prompt_labels WHERE version_id = %(version_id)s ORDER BY label;

-- insert_label_event --
-- Append a label move to the history
INSERT INTO label_history (prompt_id, label, from_version_id, to_version_id, actor, reason)
VALUES (%(prompt_id)s, %(label)s, %(from_version_id)s, %(to_version_id)s, %(actor)s, %(reason)s);

-- list_label_history --
-- Label moves of a prompt, newest first, before a cursor
SELECT h.event_id, h.label, fv.version_number AS from_version, tv.version_number AS to_version,
       h.actor, h.reason, h.created_at
FROM label_history h
LEFT JOIN prompt_versions fv ON fv.version_id = h.from_version_id
LEFT JOIN prompt_versions tv ON tv.version_id = h.to_version_id
WHERE h.prompt_id = %(prompt_id)s
  AND (%(label)s::text IS NULL OR h.label = %(label)s::text)
  AND (%(before)s::bigint IS NULL OR h.event_id < %(before)s::bigint)
ORDER BY h.event_id DESC
LIMIT %(limit)s;

-- list_models --
-- Known models in (provider, name) order, after a cursor
SELECT * FROM models
WHERE (%(provider)s::text IS NULL OR provider = %(provider)s::text)
  AND (%(after)s::text IS NULL OR provider || '/' || model_name > %(after)s::text)
ORDER BY provider || '/' || model_name
LIMIT %(limit)s;

-- get_model --
-- One model by provider and name
SELECT * FROM models WHERE provider = %(provider)s AND model_name = %(model_name)s;

-- upsert_model --
-- Create or update a model and its prices
INSERT INTO models AS m (provider, model_name, max_tokens, supports_streaming,
                         input_price_per_mtok, output_price_per_mtok)
VALUES (%(provider)s, %(model_name)s, %(max_tokens)s, %(supports_streaming)s,
        %(input_price_per_mtok)s, %(output_price_per_mtok)s)
ON CONFLICT (provider, model_name) DO UPDATE
SET max_tokens = EXCLUDED.max_tokens,
    supports_streaming = EXCLUDED.supports_streaming,
    input_price_per_mtok = EXCLUDED.input_price_per_mtok,
    output_price_per_mtok = EXCLUDED.output_price_per_mtok,
    updated_at = now()
RETURNING *, (xmax = 0) AS created;
