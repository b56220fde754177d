-- Every SQL statement PromptLedger runs, as named queries (the procrastinate habit).
-- A query starts with a "-- name --" line, then a one-line description, then its SQL.
-- Parameters use psycopg's %(name)s style; a jsonb parameter is cast, %(name)s::jsonb, and
-- callers pass it as a plain dict or list (the store wraps it for the driver).
-- tests/integration/test_migrations.py (test_every_named_query_prepares) prepares each one
-- against the migrated schema, so a query and the schema can never drift apart unnoticed.

-- notify_cache --
-- Tell every process to evict a cache group (delivered when the transaction commits)
SELECT pg_notify('promptledger_cache', %(payload)s);

-- lookup_api_key --
-- Find a live key by the SHA-256 of its secret; with stored_operator, the stored operator key
-- too (operator = true: no project row, it acts as the instance operator)
SELECT key_id, project_id, scopes, last_used_at, requests_per_minute, executions_per_minute,
       false AS operator
FROM api_keys
WHERE key_hash = %(key_hash)s AND revoked_at IS NULL
UNION ALL
SELECT NULL, NULL, NULL, NULL, NULL, NULL, true
FROM operator_key
WHERE %(stored_operator)s::boolean AND key_hash = %(key_hash)s;

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
INSERT INTO api_keys (project_id, name, prefix, key_hash, scopes, requests_per_minute,
                      executions_per_minute)
VALUES (%(project_id)s, %(name)s, %(prefix)s, %(key_hash)s, %(scopes)s,
        %(requests_per_minute)s, %(executions_per_minute)s)
RETURNING key_id, project_id, name, prefix, scopes, created_at, last_used_at, revoked_at,
          requests_per_minute, executions_per_minute;

-- list_api_keys --
-- A project's keys, newest first, after a cursor
SELECT key_id, project_id, name, prefix, scopes, created_at, last_used_at, revoked_at,
       requests_per_minute, executions_per_minute
FROM api_keys
WHERE project_id = %(project_id)s
  AND (%(after)s::timestamptz IS NULL OR created_at < %(after)s::timestamptz)
ORDER BY created_at DESC LIMIT %(limit)s;

-- lock_api_key --
-- A key of a project, locked until its revocation commits
SELECT key_id, scopes FROM api_keys
WHERE project_id = %(project_id)s AND key_id = %(key_id)s FOR UPDATE;

-- revoke_api_key --
-- Revoke a key of a project (idempotent: the first revocation time is kept)
UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
WHERE project_id = %(project_id)s AND key_id = %(key_id)s
RETURNING key_id, project_id, name, prefix, scopes, created_at, last_used_at, revoked_at,
          requests_per_minute, executions_per_minute;

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

-- add_version --
-- The version of a prompt with exactly this content, or else the next version appended with it
-- (the caller holds the prompt's row lock): one round trip; created says which. With a payload,
-- the cache eviction is notified in the same statement (delivered when the transaction commits)
WITH existing AS (
    SELECT * FROM prompt_versions
    WHERE prompt_id = %(prompt_id)s AND checksum_hash = %(checksum)s
), inserted AS (
    INSERT INTO prompt_versions (prompt_id, version_number, kind, template_source, messages,
                                 model_defaults, variables, checksum_hash, status, created_by,
                                 commit_message)
    SELECT %(prompt_id)s, COALESCE(MAX(version_number), 0) + 1, %(kind)s, %(template_source)s,
           %(messages)s::jsonb, %(model_defaults)s::jsonb, %(variables)s, %(checksum)s, 'draft',
           %(created_by)s, %(commit_message)s
    FROM prompt_versions WHERE prompt_id = %(prompt_id)s
    HAVING NOT EXISTS (SELECT 1 FROM existing)
    RETURNING *
), notified AS (
    SELECT pg_notify('promptledger_cache', %(payload)s::text) WHERE %(payload)s::text IS NOT NULL
)
SELECT i.*, true AS created, (SELECT count(*) FROM notified) AS notified FROM inserted i
UNION ALL
SELECT e.*, false AS created, (SELECT count(*) FROM notified) AS notified FROM existing e;

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
         WHERE l.prompt_id = p.prompt_id) AS labels,
       (SELECT av.version_number FROM prompt_versions av
         WHERE av.version_id = p.active_version_id) AS active_version_number
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

-- move_label --
-- Point a prompt's label at a version in one statement, run right after lock_prompt in the
-- same transaction (pipelined: labels.py), so that its snapshot follows the lock and sees a
-- label a concurrent move has just created: the version found by number and not archived, the
-- label upserted and the move appended to the history only when the label changes, and the
-- cache eviction notified (delivered at commit). found_prompt and version_status say why
-- nothing was written; labels are the prompt's labels after the move.
WITH prompt AS (
    SELECT prompt_id FROM prompts
    WHERE project_id = %(project_id)s AND name = %(name)s
    FOR UPDATE
), version AS (
    SELECT v.version_id, v.version_number, v.status
    FROM prompt_versions v JOIN prompt p ON p.prompt_id = v.prompt_id
    WHERE v.version_number = %(version_number)s::int
), current AS (
    SELECT l.version_id FROM prompt_labels l JOIN prompt p ON p.prompt_id = l.prompt_id
    WHERE l.label = %(label)s::text
    FOR UPDATE OF l
), moved AS (
    INSERT INTO prompt_labels AS l (prompt_id, label, version_id, updated_by)
    SELECT p.prompt_id, %(label)s::text, v.version_id, %(actor)s::text
    FROM prompt p CROSS JOIN version v
    WHERE v.status <> 'archived'
      AND v.version_id IS DISTINCT FROM (SELECT c.version_id FROM current c)
    ON CONFLICT (prompt_id, label) DO UPDATE
    SET version_id = EXCLUDED.version_id, updated_by = EXCLUDED.updated_by, updated_at = now()
    RETURNING l.label, l.version_id, l.updated_by, l.updated_at
), event AS (
    INSERT INTO label_history (prompt_id, label, from_version_id, to_version_id, actor, reason)
    SELECT p.prompt_id, m.label, (SELECT c.version_id FROM current c), m.version_id,
           %(actor)s::text, %(reason)s::text
    FROM moved m CROSS JOIN prompt p
), notified AS (
    SELECT pg_notify('promptledger_cache', %(payload)s::text) FROM moved
)
SELECT EXISTS (SELECT 1 FROM prompt) AS found_prompt,
       (SELECT v.status FROM version v) AS version_status,
       (SELECT count(*) FROM notified) AS notified,
       (SELECT coalesce(jsonb_agg(to_jsonb(x) ORDER BY x.label), '[]'::jsonb) FROM (
            SELECT m.label, v.version_number, m.version_id, m.updated_by, m.updated_at
            FROM moved m CROSS JOIN version v
            UNION ALL
            SELECT l.label, lv.version_number, l.version_id, l.updated_by, l.updated_at
            FROM prompt_labels l
            JOIN prompt p ON p.prompt_id = l.prompt_id
            JOIN prompt_versions lv ON lv.version_id = l.version_id
            WHERE NOT (l.label = %(label)s::text AND EXISTS (SELECT 1 FROM moved))
        ) x) AS labels;

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
-- Create or update a model and its prices through the API: the row becomes the user's
INSERT INTO models AS m (provider, model_name, max_tokens, supports_streaming,
                         input_price_per_mtok, output_price_per_mtok, source)
VALUES (%(provider)s, %(model_name)s, %(max_tokens)s, %(supports_streaming)s,
        %(input_price_per_mtok)s, %(output_price_per_mtok)s, 'user')
ON CONFLICT (provider, model_name) DO UPDATE
SET max_tokens = EXCLUDED.max_tokens,
    supports_streaming = EXCLUDED.supports_streaming,
    input_price_per_mtok = EXCLUDED.input_price_per_mtok,
    output_price_per_mtok = EXCLUDED.output_price_per_mtok,
    source = 'user',
    updated_at = now()
RETURNING *, (xmax = 0) AS created;

-- resolve_for_execution --
-- The version an execution runs: a pinned number, an explicit label, the environment's label,
-- or else the active version; with the model it asks for (or NULL when unknown)
SELECT to_jsonb(p) AS prompt,
       to_jsonb(v) AS version,
       to_jsonb(m) AS model,
       CASE
           WHEN %(version_number)s::int IS NOT NULL THEN 'version:' || %(version_number)s::int
           WHEN %(label)s::text IS NOT NULL THEN 'label:' || %(label)s::text
           WHEN env.version_id IS NOT NULL THEN 'label:' || %(environment)s::text
           ELSE 'active'
       END AS resolved_by
FROM prompts p
LEFT JOIN prompt_labels env ON env.prompt_id = p.prompt_id AND env.label = %(environment)s::text
LEFT JOIN prompt_versions v ON v.prompt_id = p.prompt_id AND v.version_id = (
    CASE
        WHEN %(version_number)s::int IS NOT NULL THEN
            (SELECT x.version_id FROM prompt_versions x
              WHERE x.prompt_id = p.prompt_id AND x.version_number = %(version_number)s::int)
        WHEN %(label)s::text IS NOT NULL THEN
            (SELECT l.version_id FROM prompt_labels l
              WHERE l.prompt_id = p.prompt_id AND l.label = %(label)s::text)
        ELSE COALESCE(env.version_id, p.active_version_id)
    END)
LEFT JOIN models m ON m.provider = %(provider)s::text AND m.model_name = %(model_name)s::text
WHERE p.project_id = %(project_id)s AND p.name = %(name)s;

-- insert_execution --
-- Record a new execution (its id chosen by the caller) and its inputs in one statement; a running
-- (sync) one also records its first provider attempt, before the call is made. Nothing when the
-- id or the Idempotency-Key is taken: a held outcome writes its running row again with this
-- (its loss in a database crash, below), a no-op when the row is there
WITH execution AS (
    INSERT INTO executions (execution_id, project_id, prompt_id, version_id, model_id,
                            execution_mode, status, environment, resolved_by, served_by,
                            rendered_prompt, input_price_per_mtok, output_price_per_mtok,
                            attempts, correlation_id, idempotency_key, request_hash, trace_id,
                            started_at)
    VALUES (%(execution_id)s, %(project_id)s, %(prompt_id)s, %(version_id)s, %(model_id)s,
            %(execution_mode)s, %(status)s::text, %(environment)s, %(resolved_by)s,
            %(served_by)s, %(rendered_prompt)s, %(input_price_per_mtok)s,
            %(output_price_per_mtok)s, %(attempts)s, %(correlation_id)s, %(idempotency_key)s,
            %(request_hash)s, %(trace_id)s, CASE WHEN %(status)s::text = 'running' THEN now() END)
    ON CONFLICT DO NOTHING
    RETURNING *
), inputs AS (
    INSERT INTO execution_inputs (execution_id, variables_json, model_config_json, params_json)
    SELECT execution_id, %(variables)s::jsonb, %(model_config)s::jsonb, %(params)s::jsonb
    FROM execution
), attempt AS (
    INSERT INTO execution_attempts (execution_id, attempt_number, worker)
    SELECT execution_id, 1, %(worker)s FROM execution WHERE status = 'running'
), relaxed AS (
    -- A running row's commit does not wait for the disk (synchronous_commit off for this
    -- transaction alone): its outcome's durable commit flushes it, and a database crash before
    -- that loses a call nobody was answered for. A queued one (its 202) stays durable.
    SELECT set_config('synchronous_commit', 'off', true) FROM execution WHERE status = 'running'
)
SELECT execution.* FROM execution LEFT JOIN relaxed ON true;

-- set_execution_job --
-- Remember which queue job carries an async execution (an orphan deferred again)
UPDATE executions SET job_id = %(job_id)s WHERE execution_id = %(execution_id)s;

-- submit_execution --
-- Durably accept a queued execution: its queue job (procrastinate's own defer function), its row
-- (naming the job) and its inputs in one statement, one commit. The caller chose the id, so the
-- job names the execution before its row exists. When a concurrent request took the
-- Idempotency-Key first, no row is written and the job's claim finds nothing to run
WITH job AS (
    SELECT ids[1] AS job_id
    FROM procrastinate_defer_jobs_v1(ARRAY[ROW(
        %(queue)s::text, %(task)s::text, 0, NULL::text, NULL::text,
        jsonb_build_object('execution_id', %(execution_id)s::uuid::text), NULL::timestamptz
    )::procrastinate_job_to_defer_v1]) AS ids
), execution AS (
    INSERT INTO executions (execution_id, project_id, prompt_id, version_id, model_id,
                            execution_mode, status, environment, resolved_by, served_by,
                            rendered_prompt, input_price_per_mtok, output_price_per_mtok,
                            attempts, correlation_id, idempotency_key, request_hash, trace_id,
                            job_id)
    VALUES (%(execution_id)s, %(project_id)s, %(prompt_id)s, %(version_id)s, %(model_id)s,
            'async', 'queued', %(environment)s, %(resolved_by)s, %(served_by)s,
            %(rendered_prompt)s, %(input_price_per_mtok)s, %(output_price_per_mtok)s, 0,
            %(correlation_id)s, %(idempotency_key)s, %(request_hash)s, %(trace_id)s,
            (SELECT job_id FROM job))
    ON CONFLICT (project_id, idempotency_key) DO NOTHING
    RETURNING *
), inputs AS (
    INSERT INTO execution_inputs (execution_id, variables_json, model_config_json, params_json)
    SELECT execution_id, %(variables)s::jsonb, %(model_config)s::jsonb, %(params)s::jsonb
    FROM execution
)
SELECT * FROM execution;

-- find_execution_by_key --
-- An execution of a project by its idempotency key
SELECT execution_id, request_hash, status, execution_mode FROM executions
WHERE project_id = %(project_id)s AND idempotency_key = %(idempotency_key)s;

-- finish_execution --
-- Record the outcome of an attempt (its attempt row, the execution and its span) in one
-- statement; answer the execution with its spans and this attempt. Idempotent: a second write
-- changes nothing. A late outcome replaces an 'abandoned' failure (the answer came back after all).
WITH attempt AS (
    UPDATE execution_attempts
    SET outcome = %(status)s::text, finished_at = now(),
        prompt_tokens = %(prompt_tokens)s, response_tokens = %(response_tokens)s,
        provider_latency_ms = %(provider_latency_ms)s, cost_usd = %(cost_usd)s,
        cost_unknown = (%(status)s::text = 'succeeded' AND %(cost_usd)s::numeric IS NULL),
        error_type = %(error_type)s, error_message = %(error_message)s
    WHERE execution_id = %(execution_id)s AND attempt_number = %(attempt_number)s
    RETURNING attempt_number, outcome, started_at, finished_at, prompt_tokens, response_tokens,
              provider_latency_ms, cost_usd::text AS cost_usd, -- exact through jsonb
              cost_unknown, worker, error_type, error_message
), finished AS (
    UPDATE executions
    SET status = %(status)s::text,
        response_text = %(response_text)s,
        prompt_tokens = %(prompt_tokens)s,
        response_tokens = %(response_tokens)s,
        latency_ms = %(latency_ms)s,
        provider_latency_ms = %(provider_latency_ms)s,
        time_to_first_token_ms = %(time_to_first_token_ms)s,
        cost_usd = %(cost_usd)s,
        error_type = %(error_type)s,
        error_message = %(error_message)s,
        completed_at = CASE WHEN %(status)s::text IN ('succeeded', 'failed') THEN now() END
    WHERE execution_id = %(execution_id)s
      AND (status IN ('queued', 'running') OR (status = 'failed' AND error_type = 'abandoned'))
    RETURNING *
), span AS (
    INSERT INTO spans (project_id, trace_id, parent_span_id, execution_id, name, kind,
                       start_time, end_time, duration_ms, status, error_message, input_data,
                       output_data, model, prompt_tokens, completion_tokens, cost_usd, attributes)
    SELECT f.project_id, f.trace_id, %(parent_span_id)s, f.execution_id, %(span_name)s, 'llm',
           COALESCE(f.started_at, f.created_at), now(), %(latency_ms)s,
           CASE WHEN f.status = 'succeeded' THEN 'ok' ELSE 'error' END,
           f.error_message, %(span_input)s, %(span_output)s, %(span_model)s,
           f.prompt_tokens, f.response_tokens, f.cost_usd, %(span_attributes)s::jsonb
    FROM finished f
    WHERE f.status IN ('succeeded', 'failed')
    RETURNING span_id, trace_id, parent_span_id, name, kind, status, duration_ms, model,
              prompt_tokens, completion_tokens, attributes
)
SELECT f.*, COALESCE((SELECT jsonb_agg(to_jsonb(s)) FROM span s), '[]'::jsonb) AS spans,
       COALESCE((SELECT jsonb_agg(to_jsonb(a)) FROM attempt a), '[]'::jsonb) AS provider_attempts
FROM finished f;

-- claim_execution --
-- A worker's job takes an execution for one attempt: a queued one, or a running one whose
-- attempt belongs to this job (retried after its worker died) or to no live job. So two jobs
-- of one execution never run it at the same time. A previous attempt still 'calling' was cut
-- off with its worker: it becomes 'lost' (cost unknown). The new attempt is recorded here,
-- before the call, unless the execution has run out of attempts.
WITH claimed AS (
UPDATE executions e
SET status = 'running', attempts = e.attempts + 1, started_at = COALESCE(e.started_at, now()),
    job_id = %(job_id)s
FROM execution_inputs i, prompt_versions v, prompts p, models m
WHERE e.execution_id = %(execution_id)s
  AND (e.status = 'queued'
       OR (e.status = 'running'
           AND (e.job_id IS NOT DISTINCT FROM %(job_id)s::bigint
                OR NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                               WHERE j.id = e.job_id AND j.status = 'doing'))))
  AND i.execution_id = e.execution_id AND v.version_id = e.version_id
  AND p.prompt_id = e.prompt_id AND m.model_id = e.model_id
RETURNING e.execution_id, e.project_id, e.attempts, e.rendered_prompt, e.served_by,
          e.input_price_per_mtok, e.output_price_per_mtok, e.created_at,
          i.variables_json, i.model_config_json, i.params_json,
          to_jsonb(v) AS version, p.name AS prompt_name, m.provider, m.model_name
), lost AS (
    UPDATE execution_attempts a
    SET outcome = 'lost', cost_unknown = true, finished_at = now(), error_type = 'worker_lost',
        error_message = 'The process making this call stopped before recording its outcome.'
    FROM claimed c
    WHERE a.execution_id = c.execution_id AND a.outcome = 'calling'
), attempt AS (
    INSERT INTO execution_attempts (execution_id, attempt_number, worker, job_id)
    SELECT execution_id, attempts, %(worker)s, %(job_id)s FROM claimed
    WHERE attempts <= %(max_attempts)s
    ON CONFLICT DO NOTHING
), relaxed AS (
    -- The claim's commit does not wait for the disk (synchronous_commit off for this
    -- transaction alone): the outcome's durable commit flushes it, and after a database crash
    -- that lost it the job, still 'doing', is retried (and an outcome still finds the row).
    SELECT set_config('synchronous_commit', 'off', true) FROM claimed
)
SELECT claimed.* FROM claimed LEFT JOIN relaxed ON true;

-- release_execution --
-- Put an execution back in the queue after a transient failure (its job retries it); the
-- attempt is recorded as failed
WITH attempt AS (
    UPDATE execution_attempts
    SET outcome = 'failed', finished_at = now(), provider_latency_ms = %(provider_latency_ms)s,
        error_type = %(error_type)s, error_message = %(error_message)s
    WHERE execution_id = %(execution_id)s AND attempt_number = %(attempt_number)s
)
UPDATE executions SET status = 'queued', error_type = %(error_type)s,
                      error_message = %(error_message)s
WHERE execution_id = %(execution_id)s AND status = 'running';

-- cancel_execution --
-- Cancel a queued execution of a project
UPDATE executions SET status = 'cancelled', completed_at = now()
WHERE project_id = %(project_id)s AND execution_id = %(execution_id)s AND status = 'queued'
RETURNING job_id;

-- get_execution --
-- One execution of a project, with its inputs and lineage
SELECT e.*, p.name AS prompt_name, v.version_number, m.provider, m.model_name,
       i.variables_json AS variables, i.model_config_json AS model_config,
       i.params_json AS params
FROM executions e
JOIN prompts p ON p.prompt_id = e.prompt_id
JOIN prompt_versions v ON v.version_id = e.version_id
JOIN models m ON m.model_id = e.model_id
LEFT JOIN execution_inputs i ON i.execution_id = e.execution_id
WHERE e.project_id = %(project_id)s AND e.execution_id = %(execution_id)s;

-- list_executions --
-- A project's executions, newest first, filtered, before a (created_at, id) cursor.
-- Planned per call: a generic plan cannot tell which filters are set, estimates one row and
-- sorts every execution in range (25 s at 1,000,000); planned for its values, it walks
-- ix_executions_project_created newest first until the page is full.
SELECT e.*, p.name AS prompt_name, v.version_number, m.provider, m.model_name,
       NULL::jsonb AS variables, NULL::jsonb AS model_config, NULL::jsonb AS params
FROM executions e
JOIN prompts p ON p.prompt_id = e.prompt_id
JOIN prompt_versions v ON v.version_id = e.version_id
JOIN models m ON m.model_id = e.model_id
WHERE e.project_id = %(project_id)s
  AND (%(prompt_name)s::text IS NULL OR p.name = %(prompt_name)s::text)
  AND (%(version_number)s::int IS NULL OR v.version_number = %(version_number)s::int)
  AND (%(status)s::text IS NULL OR e.status = %(status)s::text)
  AND (%(provider)s::text IS NULL OR m.provider = %(provider)s::text)
  AND (%(model_name)s::text IS NULL OR m.model_name = %(model_name)s::text)
  AND (%(correlation_id)s::text IS NULL OR e.correlation_id = %(correlation_id)s::text)
  AND (%(since)s::timestamptz IS NULL OR e.created_at >= %(since)s::timestamptz)
  AND (%(until)s::timestamptz IS NULL OR e.created_at < %(until)s::timestamptz)
  AND (%(min_attempts)s::int IS NULL OR e.attempts >= %(min_attempts)s::int)
  AND (%(before_created)s::timestamptz IS NULL
       OR (e.created_at, e.execution_id) < (%(before_created)s::timestamptz, %(before_id)s::uuid))
ORDER BY e.created_at DESC, e.execution_id DESC
LIMIT %(limit)s;

-- orphaned_executions --
-- Unfinished async executions whose queue job is gone or over (deleted, or failed on an
-- unexpected error mid-attempt): to be re-queued
SELECT e.execution_id FROM executions e
WHERE e.status IN ('queued', 'running') AND e.execution_mode = 'async'
  AND e.created_at < now() - make_interval(secs => %(min_age_seconds)s)
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j
                  WHERE j.id = e.job_id AND j.status IN ('todo', 'doing'))
ORDER BY e.created_at
LIMIT %(limit)s;

-- execution_spans --
-- The spans written for an execution
SELECT span_id, trace_id, parent_span_id, name, kind, status, duration_ms, model,
       prompt_tokens, completion_tokens, attributes
FROM spans WHERE project_id = %(project_id)s AND execution_id = %(execution_id)s;

-- abandon_sync_executions --
-- Fail sync runs left running by a server that died mid-call; their attempt is lost (its cost
-- unknown: the provider may have answered and billed)
WITH abandoned AS (
    UPDATE executions
    SET status = 'failed', error_type = 'abandoned', completed_at = now(),
        error_message = 'The server handling this synchronous run stopped before it finished.'
    WHERE execution_mode = 'sync' AND status = 'running'
      AND started_at < now() - make_interval(secs => %(older_than_seconds)s)
    RETURNING execution_id
), lost AS (
    UPDATE execution_attempts a
    SET outcome = 'lost', cost_unknown = true, finished_at = now(), error_type = 'abandoned',
        error_message = 'The server making this call stopped before recording its outcome.'
    FROM abandoned x
    WHERE a.execution_id = x.execution_id AND a.outcome = 'calling'
)
SELECT count(*) AS abandoned FROM abandoned;

-- lose_stalled_attempts --
-- Attempts of async executions still 'calling' whose queue job is no longer being run (its
-- worker died and the job was retried, or it ended): lost, their cost unknown
UPDATE execution_attempts a
SET outcome = 'lost', cost_unknown = true, finished_at = now(), error_type = 'worker_lost',
    error_message = 'The process making this call stopped before recording its outcome.'
WHERE a.outcome = 'calling' AND a.job_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs j WHERE j.id = a.job_id AND j.status = 'doing');

-- execution_attempts --
-- The provider attempts of an execution of a project, in order
SELECT a.attempt_number, a.outcome, a.started_at, a.finished_at, a.prompt_tokens,
       a.response_tokens, a.provider_latency_ms, a.cost_usd, a.cost_unknown, a.worker,
       a.error_type, a.error_message
FROM execution_attempts a JOIN executions e ON e.execution_id = a.execution_id
WHERE e.project_id = %(project_id)s AND a.execution_id = %(execution_id)s
ORDER BY a.attempt_number;

-- lease_rate_limit --
-- Lease up to `block` calls of a key's per-minute `limit` of one kind (requests, executions)
-- for the current minute: the calls granted (fewer than asked, down to 0, when the minute's
-- limit is nearly or wholly leased) and the seconds until the next minute. The count adds
-- every call asked for, so granted = what was left of the limit before, capped at the block.
-- Its commit does not wait for the disk (synchronous_commit off for this transaction alone):
-- counts lost in a database crash only let a key make a few more calls in that minute.
WITH leased AS (
    INSERT INTO rate_limit_counts AS c (key_id, kind, window_start, count)
    VALUES (%(key_id)s, %(kind)s, date_trunc('minute', now()), %(block)s::int)
    ON CONFLICT (key_id, kind, window_start) DO UPDATE SET count = c.count + EXCLUDED.count
    RETURNING c.count
)
SELECT GREATEST(0, LEAST(%(block)s::int, %(limit)s::int - (count - %(block)s::int)))::int
           AS granted,
       extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now())::float8
           AS seconds_left,
       set_config('synchronous_commit', 'off', true) AS commit_mode
FROM leased;

-- prune_rate_limits --
-- Forget the rate limit counts of past minutes
DELETE FROM rate_limit_counts WHERE window_start < date_trunc('minute', now());

-- live_workers --
-- Queue workers whose heartbeat is fresh (procrastinate updates it while a worker runs)
SELECT count(*) AS workers FROM procrastinate_workers
WHERE last_heartbeat > now() - make_interval(secs => %(fresh_seconds)s);

-- queue_depth --
-- Queue jobs by queue and status, for the metrics endpoint
SELECT queue_name, status::text AS status, count(*) AS jobs
FROM procrastinate_jobs GROUP BY queue_name, status;

-- === console (web console sessions and page queries) =================================


-- insert_console_session --
-- Open a console session (only the SHA-256 of its cookie token is stored)
INSERT INTO console_sessions (session_hash, key_hash, project_id, csrf_token, expires_at)
VALUES (%(session_hash)s, %(key_hash)s, %(project_id)s, %(csrf_token)s,
        now() + make_interval(secs => %(idle_seconds)s));

-- find_console_session --
-- A live console session, with the names of its key and project for display
SELECT s.session_hash, s.key_hash, s.project_id, s.csrf_token, s.created_at, s.last_seen_at,
       s.expires_at, k.name AS key_name, k.prefix AS key_prefix, p.name AS project_name
FROM console_sessions s
JOIN projects p ON p.project_id = s.project_id
LEFT JOIN api_keys k ON k.key_hash = s.key_hash
WHERE s.session_hash = %(session_hash)s AND s.expires_at > now();

-- touch_console_session --
-- Extend an idle session, at most once a minute and never past its absolute lifetime
UPDATE console_sessions
SET last_seen_at = now(),
    expires_at = LEAST(now() + make_interval(secs => %(idle_seconds)s),
                       created_at + make_interval(secs => %(max_seconds)s))
WHERE session_hash = %(session_hash)s AND last_seen_at < now() - interval '60 seconds';

-- delete_console_session --
-- End a console session (sign out, or its key was revoked)
DELETE FROM console_sessions WHERE session_hash = %(session_hash)s;

-- delete_expired_console_sessions --
-- Forget sessions past their expiry (index on expires_at)
DELETE FROM console_sessions WHERE expires_at <= now();

-- prompt_owner_teams --
-- The owner teams of a project's prompts, for the prompt list's filter: a skip scan of
-- ix_prompts_project_owner_team (one index probe per team, not a read of every prompt)
WITH RECURSIVE teams AS (
    (SELECT owner_team FROM prompts
     WHERE project_id = %(project_id)s AND owner_team IS NOT NULL
     ORDER BY owner_team LIMIT 1)
    UNION ALL
    SELECT (SELECT p.owner_team FROM prompts p
            WHERE p.project_id = %(project_id)s AND p.owner_team > t.owner_team
            ORDER BY p.owner_team LIMIT 1)
    FROM teams t WHERE t.owner_team IS NOT NULL
)
SELECT owner_team FROM teams WHERE owner_team IS NOT NULL LIMIT 200;

-- prompt_label_names --
-- The label names used by a project's prompts, for the prompt list's filter: a skip scan of
-- ix_prompt_labels_label, each step the next label held by a prompt of the project (not a
-- join of every label to every prompt)
WITH RECURSIVE names AS (
    (SELECT l.label FROM prompt_labels l JOIN prompts p ON p.prompt_id = l.prompt_id
     WHERE p.project_id = %(project_id)s
     ORDER BY l.label LIMIT 1)
    UNION ALL
    SELECT (SELECT l.label FROM prompt_labels l JOIN prompts p ON p.prompt_id = l.prompt_id
            WHERE p.project_id = %(project_id)s AND l.label > n.label
            ORDER BY l.label LIMIT 1)
    FROM names n WHERE n.label IS NOT NULL
)
SELECT label FROM names WHERE label IS NOT NULL LIMIT 200;

-- --- deploy (0003): catalogue loading and the stored operator key ---------------------------

-- load_catalog_model --
-- Insert a curated model, or update one still owned by the catalogue (never a user's row)
INSERT INTO models AS m (provider, model_name, max_tokens, supports_streaming,
                         input_price_per_mtok, output_price_per_mtok, source)
VALUES (%(provider)s, %(model_name)s, %(max_tokens)s, %(supports_streaming)s,
        %(input_price_per_mtok)s, %(output_price_per_mtok)s, 'catalog')
ON CONFLICT (provider, model_name) DO UPDATE
SET max_tokens = EXCLUDED.max_tokens,
    supports_streaming = EXCLUDED.supports_streaming,
    input_price_per_mtok = EXCLUDED.input_price_per_mtok,
    output_price_per_mtok = EXCLUDED.output_price_per_mtok,
    updated_at = now()
WHERE m.source = 'catalog'
  AND (m.max_tokens, m.supports_streaming, m.input_price_per_mtok, m.output_price_per_mtok)
      IS DISTINCT FROM (EXCLUDED.max_tokens, EXCLUDED.supports_streaming,
                        EXCLUDED.input_price_per_mtok, EXCLUDED.output_price_per_mtok)
RETURNING (xmax = 0) AS created;

-- get_operator_key --
-- The stored operator key's prefix and creation time (never its hash)
SELECT prefix, created_at FROM operator_key;

-- create_operator_key --
-- Store the operator key unless one exists (several pre-deploys may race: one wins)
INSERT INTO operator_key (key_hash, prefix) VALUES (%(key_hash)s, %(prefix)s)
ON CONFLICT (singleton) DO NOTHING
RETURNING prefix, created_at;

-- replace_operator_key --
-- Store a new operator key in place of the old one
INSERT INTO operator_key (key_hash, prefix) VALUES (%(key_hash)s, %(prefix)s)
ON CONFLICT (singleton) DO UPDATE
SET key_hash = EXCLUDED.key_hash, prefix = EXCLUDED.prefix, created_at = now()
RETURNING prefix, created_at;

-- === analytics (rollups of finished executions; schema/versions/0008_analytics.py) ==========

-- fold_rollups --
-- Fold pending finished executions (of one project, or all) into the rollups: each adds to its
-- rows of every grain (an hour, 4 hours, a day, 4 days, 16 days: buckets aligned on the Unix
-- epoch, each grain's buckets made of whole buckets of the finer ones; schema/versions/0009) at
-- every level. The hour rows are grouped from the executions, the coarser ones from those. Pending rows are taken in id order and rollup rows
-- written in key order, so concurrent folds wait for each other instead of deadlocking.
-- The same statement keeps each prompt's running totals (schema/versions/0013): its all-time
-- total grows by the batch's; each hour in which the batch ran it, and each stored hour after
-- the batch's earliest of that prompt, is rewritten as the stored total up to that hour plus
-- the batch's up to it (the running sum of the batch's hours). Those absolute values are read
-- from the statement's snapshot: the caller holds lock_folds first (one fold at a time). And
-- each prompt's 8-day totals (schema/versions/0014): the batch's executions of a day add to
-- that day's row and to those of the 7 days before (each row: the 8 days from its day).
WITH taken AS (
    DELETE FROM analytics_pending
    WHERE execution_id IN (
        SELECT execution_id FROM analytics_pending
        WHERE %(project_id)s::uuid IS NULL OR project_id = %(project_id)s::uuid
        ORDER BY execution_id LIMIT %(limit)s FOR UPDATE)
    RETURNING execution_id
), batch AS (
    SELECT DISTINCT execution_id FROM taken  -- an id enqueued twice is folded once (0016)
), e AS (
    SELECT x.project_id, x.prompt_id, x.version_id, x.model_id, x.created_at, x.status,
           x.prompt_tokens, x.response_tokens, x.cost_usd, x.latency_ms,
           analytics_label(x.resolved_by) AS label, analytics_slot(x.latency_ms) AS slot
    FROM executions x JOIN batch USING (execution_id)
    WHERE x.status IN ('succeeded', 'failed')
), deltas AS (
    SELECT project_id, prompt_id, date_trunc('hour', created_at, 'UTC') AS hour,
           count(*) AS executions, COALESCE(sum(cost_usd), 0) AS cost_usd
    FROM e GROUP BY 1, 2, 3
), totals_written AS (
    INSERT INTO prompt_totals AS t (project_id, prompt_id, executions, cost_usd)
    SELECT project_id, prompt_id, sum(executions), sum(cost_usd) FROM deltas
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (project_id, prompt_id) DO UPDATE
    SET executions = t.executions + EXCLUDED.executions,
        cost_usd = t.cost_usd + EXCLUDED.cost_usd
), eight_days_written AS (
    INSERT INTO prompt_eight_day_totals AS s (project_id, day, prompt_id, executions, cost_usd)
    SELECT project_id, date_trunc('day', hour, 'UTC') - k.days * interval '1 day', prompt_id,
           sum(executions), sum(cost_usd)
    FROM deltas CROSS JOIN generate_series(0, 7) AS k(days)
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (project_id, day, prompt_id) DO UPDATE
    SET executions = s.executions + EXCLUDED.executions,
        cost_usd = s.cost_usd + EXCLUDED.cost_usd
), changed AS (
    SELECT project_id, prompt_id, hour, executions, cost_usd FROM deltas
    UNION ALL
    SELECT s.project_id, s.prompt_id, s.hour, 0, 0
    FROM (SELECT project_id, prompt_id, min(hour) AS first FROM deltas GROUP BY 1, 2) f
    JOIN prompt_running_totals s
      ON s.project_id = f.project_id AND s.prompt_id = f.prompt_id AND s.hour > f.first
), running AS (
    SELECT project_id, prompt_id, hour,
           sum(sum(executions)) OVER w AS executions, sum(sum(cost_usd)) OVER w AS cost_usd
    FROM changed GROUP BY 1, 2, 3
    WINDOW w AS (PARTITION BY project_id, prompt_id ORDER BY hour)
), running_written AS (
    INSERT INTO prompt_running_totals AS rt (project_id, prompt_id, hour, executions, cost_usd)
    SELECT c.project_id, c.prompt_id, c.hour, COALESCE(b.executions, 0) + c.executions,
           COALESCE(b.cost_usd, 0) + c.cost_usd
    FROM running c
    LEFT JOIN LATERAL (
        SELECT s.executions, s.cost_usd FROM prompt_running_totals s
        WHERE s.project_id = c.project_id AND s.prompt_id = c.prompt_id AND s.hour <= c.hour
        ORDER BY s.hour DESC LIMIT 1) b ON true
    ORDER BY 1, 2, 3
    ON CONFLICT (project_id, prompt_id, hour) DO UPDATE
    SET executions = EXCLUDED.executions, cost_usd = EXCLUDED.cost_usd
), keyed AS (
    SELECT e.*, date_trunc('hour', e.created_at, 'UTC') AS hour, l.level,
           CASE WHEN l.level IN ('project', 'model') THEN '00000000-0000-0000-0000-000000000000'::uuid
                ELSE e.prompt_id END AS k_prompt,
           CASE WHEN l.level = 'version' THEN e.version_id ELSE '00000000-0000-0000-0000-000000000000'::uuid END AS k_version,
           CASE WHEN l.level = 'label' THEN e.label ELSE '' END AS k_label,
           CASE WHEN l.level IN ('model', 'prompt_model') THEN e.model_id
                ELSE '00000000-0000-0000-0000-000000000000'::uuid END AS k_model
    FROM e
    CROSS JOIN (VALUES ('project'), ('model'), ('prompt'), ('version'), ('label'),
                       ('prompt_model')) AS l(level)
), hourly AS (
    SELECT project_id, level, hour, k_prompt, k_version, k_label, k_model, slot,
           count(*) AS executions, count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
           COALESCE(sum(prompt_tokens), 0) AS prompt_tokens,
           COALESCE(sum(response_tokens), 0) AS response_tokens,
           COALESCE(sum(cost_usd), 0) AS cost_usd,
           COALESCE(sum(latency_ms), 0) AS latency_ms_sum
    FROM keyed GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
), by_slot AS (
    SELECT h.project_id, h.level, g.grain, date_bin(g.stride, h.hour, 'epoch') AS bucket_start,
           h.k_prompt, h.k_version, h.k_label, h.k_model, h.slot,
           sum(h.executions) AS executions, sum(h.succeeded) AS succeeded,
           sum(h.prompt_tokens) AS prompt_tokens, sum(h.response_tokens) AS response_tokens,
           sum(h.cost_usd) AS cost_usd, sum(h.latency_ms_sum) AS latency_ms_sum
    FROM hourly h
    CROSS JOIN (VALUES ('hour', interval '1 hour'), ('4h', interval '4 hours'),
                       ('day', interval '1 day'), ('4d', interval '4 days'),
                       ('16d', interval '16 days')) AS g(grain, stride)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9
), weights AS (  -- 10 ** (12 * slot) of the batch's slots, for the packed histograms (0015)
    SELECT slot, ('1' || repeat('0', 12 * slot))::numeric AS weight
    FROM (SELECT DISTINCT slot FROM e WHERE slot IS NOT NULL) AS s
)
INSERT INTO execution_rollups AS r (
    project_id, level, grain, bucket_start, prompt_id, version_id, label, model_id, executions,
    succeeded, failed, prompt_tokens, response_tokens, cost_usd, latency_count, latency_ms_sum,
    latency_slots, latency_counts, latency_packed)
SELECT project_id, level, grain, bucket_start, k_prompt, k_version, k_label, k_model,
       sum(executions), sum(succeeded), sum(executions) - sum(succeeded), sum(prompt_tokens),
       sum(response_tokens), sum(cost_usd),
       COALESCE(sum(executions) FILTER (WHERE slot IS NOT NULL), 0), sum(latency_ms_sum),
       COALESCE(array_agg(slot ORDER BY slot) FILTER (WHERE slot IS NOT NULL), '{}'),
       COALESCE(array_agg(executions::integer ORDER BY slot) FILTER (WHERE slot IS NOT NULL), '{}'),
       -- the histogram packed (schema/versions/0015): count * 10 ** (12 * slot), summed
       COALESCE(sum(executions * weight), 0)
FROM by_slot LEFT JOIN weights USING (slot)
GROUP BY project_id, level, grain, bucket_start, k_prompt, k_version, k_label, k_model
ORDER BY project_id, level, grain, bucket_start, k_prompt, k_version, k_label, k_model
ON CONFLICT (project_id, level, grain, bucket_start, prompt_id, version_id, label, model_id)
DO UPDATE SET
    executions = r.executions + EXCLUDED.executions,
    succeeded = r.succeeded + EXCLUDED.succeeded,
    failed = r.failed + EXCLUDED.failed,
    prompt_tokens = r.prompt_tokens + EXCLUDED.prompt_tokens,
    response_tokens = r.response_tokens + EXCLUDED.response_tokens,
    cost_usd = r.cost_usd + EXCLUDED.cost_usd,
    latency_count = r.latency_count + EXCLUDED.latency_count,
    latency_ms_sum = r.latency_ms_sum + EXCLUDED.latency_ms_sum,
    latency_packed = r.latency_packed + EXCLUDED.latency_packed,
    (latency_slots, latency_counts) = (
        SELECT COALESCE(array_agg(slot ORDER BY slot), '{}'), COALESCE(array_agg(n ORDER BY slot), '{}')
        FROM (SELECT u.slot, sum(u.n)::integer AS n
              FROM unnest(r.latency_slots || EXCLUDED.latency_slots,
                          r.latency_counts || EXCLUDED.latency_counts) AS u(slot, n)
              GROUP BY u.slot) AS merged);

-- analytics_pending_exists --
-- Whether a project has finished executions not folded yet
SELECT EXISTS (SELECT 1 FROM analytics_pending WHERE project_id = %(project_id)s) AS pending;

-- analytics_groups --
-- Counters and latency histograms of a project's rollup rows of some levels, per group, over a
-- window: the rows of each grain (grains[i]) whose bucket starts in [starts[i], ends[i]) (the
-- service's cover of the window). prompts (when given) keeps the rows of those prompts (the nil
-- UUID: rows of no prompt, the project and model levels). by_period groups by the interval's
-- bucket too. A group of one row (most points of a series) answers that row's histogram as
-- stored (slots, counts); a group of several rows answers the sum of its rows' packed
-- histograms (packed, as text; schema/versions/0015): one numeric addition a row, however many
-- slots are filled, where unnesting and merging the (slot, count) pairs grew with the volume.
-- With histograms false, neither.
WITH picked AS (
    SELECT r.level, r.prompt_id, r.version_id, r.label, r.model_id,
           CASE WHEN %(by_period)s THEN date_trunc(%(interval)s::text, r.bucket_start, 'UTC')
                ELSE 'epoch'::timestamptz END AS period,
           r.executions, r.succeeded, r.failed, r.prompt_tokens, r.response_tokens, r.cost_usd,
           r.latency_count, r.latency_ms_sum, r.latency_slots, r.latency_counts,
           r.latency_packed
    FROM unnest(%(grains)s::text[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
         AS w(grain, start_at, end_at)
    CROSS JOIN LATERAL (  -- index ranges per grain, never a scan (fenced: OFFSET 0)
        SELECT x.* FROM execution_rollups x
        WHERE x.project_id = %(project_id)s AND x.level = ANY(%(levels)s::text[])
          AND (%(prompts)s::uuid[] IS NULL OR x.prompt_id = ANY(%(prompts)s::uuid[]))
          AND x.grain = w.grain AND x.bucket_start >= w.start_at
          AND x.bucket_start < w.end_at
        OFFSET 0) r
), groups AS (
    SELECT level, prompt_id, version_id, label, model_id, period,
           CASE WHEN count(*) = 1 AND %(histograms)s THEN max(latency_slots) END AS slots,
           CASE WHEN count(*) = 1 AND %(histograms)s THEN max(latency_counts) END AS counts,
           CASE WHEN count(*) > 1 AND %(histograms)s THEN sum(latency_packed)::text END
               AS packed,
           sum(executions) AS executions, sum(succeeded) AS succeeded, sum(failed) AS failed,
           sum(prompt_tokens) AS prompt_tokens, sum(response_tokens) AS response_tokens,
           sum(cost_usd) AS cost_usd, sum(latency_count) AS latency_count,
           sum(latency_ms_sum) AS latency_ms_sum
    FROM picked GROUP BY level, prompt_id, version_id, label, model_id, period
)
SELECT c.*, p.name AS prompt_name, v.version_number, m.provider, m.model_name
FROM groups c
LEFT JOIN prompts p ON p.prompt_id = c.prompt_id
LEFT JOIN prompt_versions v ON v.version_id = c.version_id
LEFT JOIN models m ON m.model_id = c.model_id;

-- analytics_top_in_window --
-- The ids of a short window's first top prompts by volume and by cost (the answer's orders:
-- ties by name, in code-point order as Python sorts), summed straight from the prompt-level
-- rollup rows of the window's cover (services/analytics_ranking.py: top_prompts): a few rows per
-- prompt, however evenly the executions are spread over the prompts
WITH sums AS (
    SELECT r.prompt_id, sum(r.executions) AS executions, sum(r.cost_usd) AS cost_usd
    FROM unnest(%(grains)s::text[], %(starts)s::timestamptz[], %(ends)s::timestamptz[])
         AS w(grain, start_at, end_at)
    CROSS JOIN LATERAL (  -- index ranges per grain, never a scan (fenced: OFFSET 0)
        SELECT x.prompt_id, x.executions, x.cost_usd FROM execution_rollups x
        WHERE x.project_id = %(project_id)s AND x.level = 'prompt' AND x.grain = w.grain
          AND x.bucket_start >= w.start_at AND x.bucket_start < w.end_at
        OFFSET 0) r
    GROUP BY r.prompt_id
), named AS (
    SELECT s.prompt_id, s.executions, s.cost_usd, p.name COLLATE "C" AS name
    FROM sums s JOIN prompts p ON p.prompt_id = s.prompt_id
    WHERE s.executions > 0
)
(SELECT prompt_id FROM named ORDER BY executions DESC, name LIMIT %(top)s)
UNION
(SELECT prompt_id FROM named ORDER BY cost_usd DESC, executions DESC, name LIMIT %(top)s);

-- analytics_top_by_volume --
-- A page of one of the ranking's lists (services/analytics_ranking.py: top_prompts), largest first,
-- after the key (after, after_id): the prompt-level rollup rows of one bucket (grain, bucket)
-- by executions, or, with the grain '8d', the prompts' totals of the 8 days from the day
-- bucket (schema/versions/0014), or, without a grain, their all-time totals (0013)
SELECT prompt_id, executions AS bound FROM (
    SELECT prompt_id, executions FROM execution_rollups
    WHERE %(grain)s::text <> '8d' AND project_id = %(project_id)s AND level = 'prompt'
      AND grain = %(grain)s::text AND bucket_start = %(bucket)s
      AND (executions, prompt_id) < (%(after)s::bigint, %(after_id)s::uuid)
    ORDER BY executions DESC, prompt_id DESC LIMIT %(page)s) b
UNION ALL
SELECT prompt_id, executions FROM (
    SELECT prompt_id, executions FROM prompt_eight_day_totals
    WHERE %(grain)s::text = '8d' AND project_id = %(project_id)s AND day = %(bucket)s
      AND (executions, prompt_id) < (%(after)s::bigint, %(after_id)s::uuid)
    ORDER BY executions DESC, prompt_id DESC LIMIT %(page)s) e
UNION ALL
SELECT prompt_id, executions FROM (
    SELECT prompt_id, executions FROM prompt_totals
    WHERE %(grain)s::text IS NULL AND project_id = %(project_id)s
      AND (executions, prompt_id) < (%(after)s::bigint, %(after_id)s::uuid)
    ORDER BY executions DESC, prompt_id DESC LIMIT %(page)s) t
ORDER BY bound DESC, prompt_id DESC;

-- analytics_top_by_cost --
-- The same lists by cost
SELECT prompt_id, cost_usd AS bound FROM (
    SELECT prompt_id, cost_usd FROM execution_rollups
    WHERE %(grain)s::text <> '8d' AND project_id = %(project_id)s AND level = 'prompt'
      AND grain = %(grain)s::text AND bucket_start = %(bucket)s
      AND (cost_usd, prompt_id) < (%(after)s::numeric, %(after_id)s::uuid)
    ORDER BY cost_usd DESC, prompt_id DESC LIMIT %(page)s) b
UNION ALL
SELECT prompt_id, cost_usd FROM (
    SELECT prompt_id, cost_usd FROM prompt_eight_day_totals
    WHERE %(grain)s::text = '8d' AND project_id = %(project_id)s AND day = %(bucket)s
      AND (cost_usd, prompt_id) < (%(after)s::numeric, %(after_id)s::uuid)
    ORDER BY cost_usd DESC, prompt_id DESC LIMIT %(page)s) e
UNION ALL
SELECT prompt_id, cost_usd FROM (
    SELECT prompt_id, cost_usd FROM prompt_totals
    WHERE %(grain)s::text IS NULL AND project_id = %(project_id)s
      AND (cost_usd, prompt_id) < (%(after)s::numeric, %(after_id)s::uuid)
    ORDER BY cost_usd DESC, prompt_id DESC LIMIT %(page)s) t
ORDER BY bound DESC, prompt_id DESC;

-- analytics_window_totals --
-- Some prompts' executions and cost in the window [since, until): each one's running total
-- before until minus that before since (schema/versions/0013; two index probes a prompt)
SELECT p.prompt_id, p.name,
       COALESCE(u.executions, 0) - COALESCE(s.executions, 0) AS executions,
       COALESCE(u.cost_usd, 0) - COALESCE(s.cost_usd, 0) AS cost_usd
FROM prompts p
LEFT JOIN LATERAL (
    SELECT r.executions, r.cost_usd FROM prompt_running_totals r
    WHERE r.project_id = p.project_id AND r.prompt_id = p.prompt_id AND r.hour < %(until)s
    ORDER BY r.hour DESC LIMIT 1) u ON true
LEFT JOIN LATERAL (
    SELECT r.executions, r.cost_usd FROM prompt_running_totals r
    WHERE r.project_id = p.project_id AND r.prompt_id = p.prompt_id AND r.hour < %(since)s
    ORDER BY r.hour DESC LIMIT 1) s ON true
WHERE p.project_id = %(project_id)s AND p.prompt_id = ANY(%(prompts)s::uuid[]);

-- analytics_prompt_id --
-- A prompt of a project by name, for its analytics
SELECT prompt_id, name FROM prompts WHERE project_id = %(project_id)s AND name = %(name)s;

-- lock_folds --
-- One fold at a time (fold_rollups rewrites running totals read from its snapshot), first
LOCK TABLE prompt_running_totals IN EXCLUSIVE MODE;

-- lock_rollups --
-- Hold folds while the rollups are rebuilt
LOCK TABLE execution_rollups IN EXCLUSIVE MODE;

-- delete_rollups --
-- Forget every rollup row and running total, before a rebuild
WITH running AS (DELETE FROM prompt_running_totals), totals AS (DELETE FROM prompt_totals),
     eight_days AS (DELETE FROM prompt_eight_day_totals)
DELETE FROM execution_rollups;

-- enqueue_all_finished --
-- Every finished execution, to be folded again (a rebuild)
-- (those still pending are then there twice: the fold reads each id once)
INSERT INTO analytics_pending (execution_id, project_id)
SELECT execution_id, project_id FROM executions WHERE status IN ('succeeded', 'failed');

-- === traces (spans applications send, beside the executions' llm spans) ============

-- ingest_spans --
-- Store the spans of one request (a JSON array of rows: one parameter, parsed by PostgreSQL) in
-- one statement, all or nothing. A re-sent span replaces
-- its earlier copy (same project, trace and span id); an execution's span is never replaced.
-- Cost: as sent, else from the model catalogue's prices when the model and tokens are known
INSERT INTO spans AS s (project_id, trace_id, span_id, parent_span_id, name, kind, start_time,
                        end_time, duration_ms, status, error_message, service_name, model,
                        prompt_tokens, completion_tokens, cost_usd, attributes, events,
                        input_data, output_data)
SELECT %(project_id)s, r.trace_id, r.span_id, r.parent_span_id, r.name, r.kind, r.start_time,
       r.end_time, r.duration_ms, r.status, r.error_message, r.service_name, r.model,
       r.prompt_tokens, r.completion_tokens,
       COALESCE(r.cost_usd, round((r.prompt_tokens * p.input_price_per_mtok
                                   + r.completion_tokens * p.output_price_per_mtok)
                                  / 1000000, 8)),
       r.attributes, r.events, r.input_data, r.output_data
FROM jsonb_to_recordset(%(rows)s::jsonb)
     AS r(trace_id text, span_id text, parent_span_id text, name text, kind text,
          start_time timestamptz, end_time timestamptz, duration_ms int, status text,
          error_message text, service_name text, model text, provider text, prompt_tokens int,
          completion_tokens int, cost_usd numeric, attributes jsonb, events jsonb,
          input_data jsonb, output_data jsonb)
LEFT JOIN LATERAL (
    SELECT m.input_price_per_mtok, m.output_price_per_mtok FROM models m
    WHERE r.model IS NOT NULL AND r.cost_usd IS NULL AND m.model_name = r.model
    ORDER BY m.provider = r.provider DESC NULLS LAST, m.provider
    LIMIT 1
) p ON true
ON CONFLICT (project_id, trace_id, span_id) DO UPDATE
SET parent_span_id = EXCLUDED.parent_span_id, name = EXCLUDED.name, kind = EXCLUDED.kind,
    start_time = EXCLUDED.start_time, end_time = EXCLUDED.end_time,
    duration_ms = EXCLUDED.duration_ms, status = EXCLUDED.status,
    error_message = EXCLUDED.error_message, service_name = EXCLUDED.service_name,
    model = EXCLUDED.model, prompt_tokens = EXCLUDED.prompt_tokens,
    completion_tokens = EXCLUDED.completion_tokens, cost_usd = EXCLUDED.cost_usd,
    attributes = EXCLUDED.attributes, events = EXCLUDED.events,
    input_data = EXCLUDED.input_data, output_data = EXCLUDED.output_data
WHERE s.execution_id IS NULL;

-- list_traces --
-- A project's traces, newest first, filtered, before a (started_at, trace_id) cursor. Walks the
-- project's spans by start time backwards (ix_spans_project_start) until the page is full: a
-- span starts its trace when no span of the trace starts before it (ties: the lower span id);
-- each such trace is aggregated from its own spans (the primary key), then filtered. The
-- NOT EXISTS is fenced (OFFSET 0) so that it runs per walked span, never over the table. A
-- prompt's traces: list_traces_of_prompt.
SELECT s.trace_id, s.start_time AS started_at, t.ended_at, t.span_count, t.error_count,
       t.execution_count, t.services, t.name, t.prompt_tokens, t.completion_tokens, t.cost_usd,
       round(extract(epoch FROM t.ended_at - s.start_time) * 1000)::bigint AS duration_ms,
       CASE WHEN t.error_count > 0 THEN 'error' ELSE 'ok' END AS status
FROM spans s
CROSS JOIN LATERAL (
    SELECT max(COALESCE(x.end_time, x.start_time)) AS ended_at,
           count(*) AS span_count,
           count(*) FILTER (WHERE x.status = 'error') AS error_count,
           count(x.execution_id) AS execution_count,
           COALESCE(array_agg(DISTINCT x.service_name)
                    FILTER (WHERE x.service_name IS NOT NULL), '{}') AS services,
           (array_agg(x.name ORDER BY x.parent_span_id IS NOT NULL, x.start_time))[1] AS name,
           sum(x.prompt_tokens) AS prompt_tokens,
           sum(x.completion_tokens) AS completion_tokens,
           sum(x.cost_usd) AS cost_usd
    FROM spans x
    WHERE x.project_id = s.project_id AND x.trace_id = s.trace_id
) t
WHERE s.project_id = %(project_id)s
  AND s.start_time >= COALESCE(%(since)s::timestamptz, '-infinity')
  AND s.start_time < COALESCE(%(until)s::timestamptz, 'infinity')
  AND s.start_time <= COALESCE(%(before_started)s::timestamptz, 'infinity')
  AND (%(before_started)s::timestamptz IS NULL
       OR (s.start_time, s.trace_id) < (%(before_started)s::timestamptz, %(before_id)s::text))
  AND NOT EXISTS (
           SELECT 1 FROM spans e
           WHERE e.project_id = s.project_id AND e.trace_id = s.trace_id
             AND (e.start_time < s.start_time
                  OR (e.start_time = s.start_time AND e.span_id < s.span_id))
           OFFSET 0)
  AND (%(service)s::text IS NULL OR %(service)s::text = ANY(t.services))
  AND (%(status)s::text IS NULL
       OR (CASE WHEN t.error_count > 0 THEN 'error' ELSE 'ok' END) = %(status)s::text)
  AND (%(has_error)s::boolean IS NULL OR (t.error_count > 0) = %(has_error)s::boolean)
  AND (%(min_duration_ms)s::bigint IS NULL
       OR extract(epoch FROM t.ended_at - s.start_time) * 1000 >= %(min_duration_ms)s::bigint)
ORDER BY s.start_time DESC, s.trace_id DESC
LIMIT %(limit)s;

-- list_traces_of_prompt --
-- list_traces for the traces holding an execution of a prompt: only their spans are read (the
-- primary key, from the prompt's executions), then the same rules as list_traces
SELECT s.trace_id, s.start_time AS started_at, t.ended_at, t.span_count, t.error_count,
       t.execution_count, t.services, t.name, t.prompt_tokens, t.completion_tokens, t.cost_usd,
       round(extract(epoch FROM t.ended_at - s.start_time) * 1000)::bigint AS duration_ms,
       CASE WHEN t.error_count > 0 THEN 'error' ELSE 'ok' END AS status
FROM (
    SELECT b.project_id, b.trace_id, b.span_id, b.start_time FROM spans b
    WHERE b.project_id = %(project_id)s
      AND b.trace_id IN (
          SELECT e.trace_id FROM executions e JOIN prompts p ON p.prompt_id = e.prompt_id
          WHERE p.project_id = %(project_id)s AND p.name = %(prompt_name)s::text
            AND e.trace_id IS NOT NULL)
) s
CROSS JOIN LATERAL (
    SELECT max(COALESCE(x.end_time, x.start_time)) AS ended_at,
           count(*) AS span_count,
           count(*) FILTER (WHERE x.status = 'error') AS error_count,
           count(x.execution_id) AS execution_count,
           COALESCE(array_agg(DISTINCT x.service_name)
                    FILTER (WHERE x.service_name IS NOT NULL), '{}') AS services,
           (array_agg(x.name ORDER BY x.parent_span_id IS NOT NULL, x.start_time))[1] AS name,
           sum(x.prompt_tokens) AS prompt_tokens,
           sum(x.completion_tokens) AS completion_tokens,
           sum(x.cost_usd) AS cost_usd
    FROM spans x
    WHERE x.project_id = s.project_id AND x.trace_id = s.trace_id
) t
WHERE s.start_time >= COALESCE(%(since)s::timestamptz, '-infinity')
  AND s.start_time < COALESCE(%(until)s::timestamptz, 'infinity')
  AND s.start_time <= COALESCE(%(before_started)s::timestamptz, 'infinity')
  AND (%(before_started)s::timestamptz IS NULL
       OR (s.start_time, s.trace_id) < (%(before_started)s::timestamptz, %(before_id)s::text))
  AND NOT EXISTS (
           SELECT 1 FROM spans e
           WHERE e.project_id = s.project_id AND e.trace_id = s.trace_id
             AND (e.start_time < s.start_time
                  OR (e.start_time = s.start_time AND e.span_id < s.span_id))
           OFFSET 0)
  AND (%(service)s::text IS NULL OR %(service)s::text = ANY(t.services))
  AND (%(status)s::text IS NULL
       OR (CASE WHEN t.error_count > 0 THEN 'error' ELSE 'ok' END) = %(status)s::text)
  AND (%(has_error)s::boolean IS NULL OR (t.error_count > 0) = %(has_error)s::boolean)
  AND (%(min_duration_ms)s::bigint IS NULL
       OR extract(epoch FROM t.ended_at - s.start_time) * 1000 >= %(min_duration_ms)s::bigint)
ORDER BY s.start_time DESC, s.trace_id DESC
LIMIT %(limit)s;

-- trace_service_bound --
-- The start of the reach-th latest span of a service (before the page's end), or NULL when the
-- service has fewer spans: list_traces_of_service's bound
SELECT start_time AS bound FROM spans
WHERE project_id = %(project_id)s AND service_name = %(service)s::text
  AND start_time < COALESCE(%(until)s::timestamptz, 'infinity')
  AND start_time <= COALESCE(%(before_started)s::timestamptz, 'infinity')
ORDER BY start_time DESC
OFFSET %(reach)s - 1 LIMIT 1;

-- list_traces_of_service --
-- list_traces for the traces holding a span of a service that start at or after bound: the
-- candidates are the traces of the service's spans starting then or later (ix_spans_service:
-- a trace starting at or after bound has all its spans there), each with its first span (the
-- primary key), then the same filters as list_traces. When fewer than a page come back and
-- bound was not NULL, the service asks again with an earlier bound (trace_service_bound,
-- reaching further).
WITH candidates AS MATERIALIZED (
    SELECT DISTINCT c.trace_id FROM spans c
    WHERE c.project_id = %(project_id)s AND c.service_name = %(service)s::text
      AND c.start_time >= GREATEST(COALESCE(%(bound)s::timestamptz, '-infinity'),
                                   COALESCE(%(since)s::timestamptz, '-infinity'))
)
SELECT s.trace_id, s.start_time AS started_at, t.ended_at, t.span_count, t.error_count,
       t.execution_count, t.services, t.name, t.prompt_tokens, t.completion_tokens, t.cost_usd,
       round(extract(epoch FROM t.ended_at - s.start_time) * 1000)::bigint AS duration_ms,
       CASE WHEN t.error_count > 0 THEN 'error' ELSE 'ok' END AS status
FROM candidates k
CROSS JOIN LATERAL (
    SELECT f.project_id, f.trace_id, f.span_id, f.start_time FROM spans f
    WHERE f.project_id = %(project_id)s AND f.trace_id = k.trace_id
    ORDER BY f.start_time, f.span_id LIMIT 1
) s
CROSS JOIN LATERAL (
    SELECT max(COALESCE(x.end_time, x.start_time)) AS ended_at,
           count(*) AS span_count,
           count(*) FILTER (WHERE x.status = 'error') AS error_count,
           count(x.execution_id) AS execution_count,
           COALESCE(array_agg(DISTINCT x.service_name)
                    FILTER (WHERE x.service_name IS NOT NULL), '{}') AS services,
           (array_agg(x.name ORDER BY x.parent_span_id IS NOT NULL, x.start_time))[1] AS name,
           sum(x.prompt_tokens) AS prompt_tokens,
           sum(x.completion_tokens) AS completion_tokens,
           sum(x.cost_usd) AS cost_usd
    FROM spans x
    WHERE x.project_id = s.project_id AND x.trace_id = s.trace_id
) t
WHERE s.start_time >= GREATEST(COALESCE(%(bound)s::timestamptz, '-infinity'),
                               COALESCE(%(since)s::timestamptz, '-infinity'))
  AND s.start_time < COALESCE(%(until)s::timestamptz, 'infinity')
  AND s.start_time <= COALESCE(%(before_started)s::timestamptz, 'infinity')
  AND (%(before_started)s::timestamptz IS NULL
       OR (s.start_time, s.trace_id) < (%(before_started)s::timestamptz, %(before_id)s::text))
  AND (%(service)s::text IS NULL OR %(service)s::text = ANY(t.services))
  AND (%(status)s::text IS NULL
       OR (CASE WHEN t.error_count > 0 THEN 'error' ELSE 'ok' END) = %(status)s::text)
  AND (%(has_error)s::boolean IS NULL OR (t.error_count > 0) = %(has_error)s::boolean)
  AND (%(min_duration_ms)s::bigint IS NULL
       OR extract(epoch FROM t.ended_at - s.start_time) * 1000 >= %(min_duration_ms)s::bigint)
ORDER BY s.start_time DESC, s.trace_id DESC
LIMIT %(limit)s;

-- trace_spans --
-- The spans of one trace of a project, each execution span with its execution's prompt,
-- version and cost
SELECT s.span_id, s.parent_span_id, s.name, s.kind, s.service_name, s.status,
       s.error_message, s.start_time, s.end_time, s.duration_ms, s.model, s.prompt_tokens,
       s.completion_tokens, COALESCE(s.cost_usd, e.cost_usd) AS cost_usd, s.attributes,
       s.events, s.input_data AS input, s.output_data AS output,
       s.execution_id, p.name AS prompt_name, e.version_id, v.version_number
FROM spans s
LEFT JOIN executions e ON e.execution_id = s.execution_id
LEFT JOIN prompts p ON p.prompt_id = e.prompt_id
LEFT JOIN prompt_versions v ON v.version_id = e.version_id
WHERE s.project_id = %(project_id)s AND s.trace_id = %(trace_id)s
ORDER BY s.start_time, s.span_id
LIMIT %(limit)s;

-- delete_old_spans --
-- Retention: delete up to a batch of application spans received before the cutoff (executions'
-- spans stay with the ledger); one short statement per batch
DELETE FROM spans WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM spans
    WHERE created_at < now() - make_interval(days => %(days)s) AND execution_id IS NULL
    LIMIT %(limit)s));
