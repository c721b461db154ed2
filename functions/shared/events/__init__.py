"""Event plumbing: the outbox (write side), its relay to EventBridge, and the consumer base."""
