-- name: tables
-- description: The tables and views of the lake session (what `\d` shows in the shell)
-- params:
SELECT table_name, table_type
FROM information_schema.tables
WHERE table_schema = 'public'
ORDER BY table_name;
