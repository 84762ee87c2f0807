-- Searching task texts for words (the task list's `q`). Chinese search terms are often two
-- characters, which pg_trgm cannot look up (it needs three), so the index holds every one-
-- and two-character piece of the text; a search asks for the pieces of its term first and
-- ILIKE then decides, so the answer is exact.
CREATE FUNCTION text_grams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT gram), '{}') FROM (
        SELECT substr(lower(t), i, 1) AS gram FROM generate_series(1, char_length(t)) AS i
        UNION ALL
        SELECT substr(lower(t), i, 2) FROM generate_series(1, char_length(t) - 1) AS i
    ) AS grams
$$;
CREATE INDEX plan_tasks_text_grams ON plan_tasks USING gin (text_grams(text));
