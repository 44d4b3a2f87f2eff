"""The public GraphQL API (strawberry on Starlette)."""
