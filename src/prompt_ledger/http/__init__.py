"""HTTP plumbing shared by every function: routing, auth, bodies, problem+json, OpenAPI."""
