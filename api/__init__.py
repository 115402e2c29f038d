"""The transport: Starlette app, GraphQL schema, auth, permissions, loaders and the subscription hub."""
