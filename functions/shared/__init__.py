"""The small kernel every context uses. It knows no context: contexts import it, never the reverse."""
