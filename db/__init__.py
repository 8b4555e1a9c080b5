"""Persistence: models, sessions and the unit of work, repositories, queries, migrations."""
