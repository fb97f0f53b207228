-- Runs once, when the PostgreSQL volume is new: the agent desk and the email adapter own a
-- database each beside the context store's (POSTGRES_DB=context); each service migrates its
-- own schema. A volume made before a database was added here needs it created by hand
-- (README.md, "On one host: Docker Compose").
CREATE DATABASE agent_desk;
CREATE DATABASE email;
