"""Full-text search over public records (whoosh)."""
