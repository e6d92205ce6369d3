//! The mirror: one store over SQLite and PostgreSQL.
