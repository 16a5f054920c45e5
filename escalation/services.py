"""Escalation rules: the one validation and the writes, for the API and the admin.

The API's serializer checks types and ranges of the JSON shape (docs/API.md,
"Configuration objects") and calls the field checks below for what involves
settings or other rows, so its error body lists every field's problem at once;
the admin's form calls
:func:`rule_validate`; both save through :func:`rule_create` and
:func:`rule_update`, which validate again, so no caller saves a rule the engine
could not run (a customer as assignee, a tier beyond ``HELPDESK_TIERS``, 5000 %).

Who may configure rules is decided where the request enters (managers: the API's
``IsManager``, the admin's permissions), so these services take no ``actor``:
rules record no author, and code (migrations, tests) configures rules as well.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from catalog.models import Application
from escalation.models import EscalationRule, Trigger
from escalation.notify import validate_notify_spec
from helpdesk import roles
from helpdesk.errors import InvalidInput
from helpdesk.models import User
from helpdesk.versioning import versioned_update
from notifications.models import Notification
from tickets.models import Category

RULE_FIELDS = (
    "name", "enabled", "order", "tiers", "priorities", "statuses", "kinds", "applications", "categories",
    "trigger", "threshold", "escalate_to_tier", "raise_urgency", "assign_to", "notify", "note",
)  # fmt: skip
MAX_ELAPSED_PCT = 1000


def _int_list(value: Any) -> list[int]:
    # The API's serializer guarantees the type; the admin's JSON box does not.
    if not isinstance(value, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ValidationError("A list of whole numbers.")
    return value


def rule_tiers(value: Any) -> list[int]:
    """The tiers a rule watches: in use (``HELPDESK_TIERS``), sorted, each once."""
    tiers = _int_list(value)
    if any(t < 1 or t > roles.max_tier() for t in tiers):
        raise ValidationError(f"Only tiers 1-{roles.max_tier()} are in use.")
    return sorted(set(tiers))


def rule_escalate_to_tier(value: int | None) -> int | None:
    if value is not None:
        rule_tiers([value])
    return value


def _existing(model: Any, value: Any) -> list[int]:
    ids = sorted(set(_int_list(value)))
    found = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationError(f"Unknown ids: {', '.join(map(str, missing))}.")
    return ids


def rule_applications(value: Any) -> list[int]:
    return _existing(Application, value)


def rule_categories(value: Any) -> list[int]:
    return _existing(Category, value)


def rule_assign_to(value: User | None) -> User | None:
    if value is not None and not (value.is_active and roles.is_agent(value)):
        raise ValidationError("Tickets can only be assigned to an active agent.")
    return value


def rule_notify(value: Any) -> list[str]:
    """Valid notify targets, each once, in the order given."""
    if not isinstance(value, list) or not all(isinstance(spec, str) for spec in value):
        raise ValidationError('A list of notify targets, e.g. ["tier:2", "role:manager"].')
    errors = [f"{spec}: {error}" for spec in value if (error := validate_notify_spec(spec))]
    if errors:
        raise ValidationError(errors)
    return list(dict.fromkeys(value))


# Field -> its check (raises ValidationError, returns the value to store).
FIELD_CHECKS: dict[str, Callable[[Any], Any]] = {
    "tiers": rule_tiers,
    "escalate_to_tier": rule_escalate_to_tier,
    "applications": rule_applications,
    "categories": rule_categories,
    "assign_to": rule_assign_to,
    "notify": rule_notify,
}


def rule_threshold_problem(trigger: str | None, threshold: int) -> str | None:
    """The threshold is minutes, or a percentage for the elapsed-time trigger."""
    if trigger == Trigger.RESOLUTION_ELAPSED_PCT and not 0 <= threshold <= MAX_ELAPSED_PCT:
        return f"A percentage between 0 and {MAX_ELAPSED_PCT}."
    return None


def rule_validate(values: dict[str, Any], *, stored: EscalationRule | None = None) -> dict[str, Any]:
    """``values`` checked and normalised (the fields given; the threshold against the
    merged trigger); InvalidInput naming every field's problem otherwise."""
    errors: dict[str, list[str]] = {}
    cleaned = dict(values)
    for field, check in FIELD_CHECKS.items():
        if field in values:
            try:
                cleaned[field] = check(values[field])
            except ValidationError as exc:
                errors[field] = exc.messages
    if not errors:  # as the serializer: the whole-rule check runs once the fields are valid
        trigger = cleaned.get("trigger", getattr(stored, "trigger", None))
        threshold = cleaned.get("threshold", getattr(stored, "threshold", 0))
        if problem := rule_threshold_problem(trigger, threshold):
            errors["threshold"] = [problem]
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _known_fields(fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - set(RULE_FIELDS))
    if unknown:
        raise InvalidInput({field: ["Unknown field."] for field in unknown})


def rule_create(**fields: Any) -> EscalationRule:
    _known_fields(fields)
    return EscalationRule.objects.create(**rule_validate(fields))


def rule_update(
    *, rule: EscalationRule, changes: dict[str, Any], expected_version: int | None = None
) -> EscalationRule:
    """One edit (the version goes up when a value differs; 412 when
    ``expected_version`` is not current), validated under the row lock."""
    _known_fields(changes)
    return versioned_update(
        instance=rule,
        changes=changes,
        expected_version=expected_version,
        prepare=lambda locked, changes: rule_validate(changes, stored=locked),
    )


def rule_delete(*, rule: EscalationRule) -> None:
    """Remove a rule; its firings go with it, queued notifications keep their text
    and forget the rule (``rule_id`` is not a foreign key: the outbox is a floor
    below, so this does what the key's SET_NULL did)."""
    with transaction.atomic():
        Notification.objects.filter(rule_id=rule.pk).update(rule_id=None)
        rule.delete()
