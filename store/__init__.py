"""The storage layer: domain model, the Store contract, errors and the SQLite/PostgreSQL backends."""
