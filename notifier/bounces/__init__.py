"""Bounces that arrive after a message was accepted: VERP envelope senders, and the reading of
the bounce Maildir (notifier.bounces.process)."""
