"""The store: cases and their updates, subscribers, subscriptions and mailing lists."""
