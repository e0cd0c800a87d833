"""Storage: the schema, transactions with retries, migrations."""
