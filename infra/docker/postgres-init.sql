-- Runs once, when the PostgreSQL volume is new: the agent desk owns a database of its own
-- beside the context store's (POSTGRES_DB=context); each service migrates its own schema.
CREATE DATABASE agent_desk;
