"""SQLAlchemy adapters: the schema, engines, repositories and unit of work over SQL databases."""
