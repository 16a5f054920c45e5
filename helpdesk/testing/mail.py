"""What Django's file e-mail backend wrote (a worker process's outgoing mail in tests)."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from pathlib import Path


def emails_written(directory: Path) -> Counter:
    """(recipient, subject) -> how many messages Django's file e-mail backend wrote."""
    separator = b"\n" + b"-" * 79 + b"\n"
    sent: Counter = Counter()
    if not directory.exists():
        return sent
    for path in directory.iterdir():
        for chunk in path.read_bytes().split(separator):
            if not chunk.strip():
                continue
            message = email.message_from_bytes(chunk, policy=email.policy.default)
            sent[(str(message["To"]), str(message["Subject"]))] += 1
    return sent
