"""Auth context: accounts, credentials, roles and tokens (SPEC §3)."""
