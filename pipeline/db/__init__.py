"""SQL persistence: typed models, the async engine, batched idempotent writes, migrations."""
