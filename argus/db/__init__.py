"""Storage: the schema, its Alembic migrations and engine creation."""
