"""The simpod JSON data source contract under /grafana (health, metrics, query, variables, ad-hoc filters)."""
