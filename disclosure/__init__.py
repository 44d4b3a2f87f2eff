"""The domain: records, publicity rules, change log, storage."""
