"""Tasks context: tasks, their random assignment, shuffle and completion (SPEC §5)."""
