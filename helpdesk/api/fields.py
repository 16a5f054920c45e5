"""Serializer fields every app's API shares."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from helpdesk.text import parse_id


class SafePrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """Rejects ids outside the bigint range with a 400 before touching the database."""

    def to_internal_value(self, data: Any) -> Any:
        pk = parse_id(data)  # ints and ASCII-digit strings in the bigint range; "²" is not an id
        if pk is None:
            self.fail("incorrect_type", data_type=type(data).__name__)
        return super().to_internal_value(pk)
