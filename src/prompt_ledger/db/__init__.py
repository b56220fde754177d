"""Persistence: the declared schema, the named SQL queries and the store that runs them."""
