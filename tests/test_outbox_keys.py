"""The outbox's keys are built and read in one module: what one builds, the other reads back."""

from __future__ import annotations

from notifier.domain import Cadence, Channel, outbox_keys


def test_a_digest_message_key_reads_back_as_its_digest_and_period() -> None:
    for digest in (
        outbox_keys.list_digest(5),
        outbox_keys.personal_digest(12, Cadence.WEEKLY, Channel.TELEGRAM),
    ):
        key = outbox_keys.digest_message(digest, "2026-11-30T02:00Z")
        assert key.startswith(outbox_keys.DIGEST)
        assert outbox_keys.digest_of(key) == (digest, "2026-11-30T02:00Z")


def test_recipients_say_whether_a_group_or_a_person() -> None:
    assert outbox_keys.chat_of(outbox_keys.chat_recipient(-100123)) == -100123
    assert outbox_keys.chat_of(outbox_keys.subscriber_recipient(7)) is None
    assert outbox_keys.personal_digest(7, Cadence.DAILY, Channel.EMAIL).startswith(
        outbox_keys.personal_digests_of(7)
    )
    assert not outbox_keys.personal_digest(70, Cadence.DAILY, Channel.EMAIL).startswith(
        outbox_keys.personal_digests_of(7)
    )
