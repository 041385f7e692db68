-- A table for the harness's own tests to find in every cloned database.
CREATE TABLE probe (id bigint PRIMARY KEY);
