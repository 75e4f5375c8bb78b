"""Engine, sessions, the embedded Postgres and migrations."""
