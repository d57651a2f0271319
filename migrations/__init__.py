"""SQL migration files, shipped as package data."""
