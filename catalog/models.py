"""The catalogue: the applications that tickets, known issues and monitoring name.

It sits on the ground floor (above the core, below tickets) so that tickets can
name an application without importing monitoring. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

from django.db import models


class Level(models.TextChoices):
    """One scale for a ticket's urgency and impact and an application's criticality
    (the criticality is the impact of the incidents the application raises)."""

    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Application(models.Model):
    """A monitored application. Its criticality is the impact of the incidents it
    raises; its owner tier is where those incidents start."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    environment = models.CharField(max_length=50, default="production")
    criticality = models.CharField(max_length=8, choices=Level.choices, default=Level.MEDIUM)
    owner_tier = models.PositiveSmallIntegerField(default=2)
    created_at = models.DateTimeField(auto_now_add=True)
    # One per configuration edit (API, admin); never bumped by polls or counters. The API's ETag.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        # The table was created by monitoring's migrations and keeps its name: the
        # move to this app changed the state only (catalog 0001, monitoring 0006).
        db_table = "monitoring_application"
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(owner_tier__gte=1, owner_tier__lte=3), name="application_owner_tier_1_3"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"
