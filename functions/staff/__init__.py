"""Staff context: employees, positions and the department tree (SPEC §4)."""
