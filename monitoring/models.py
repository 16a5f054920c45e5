from django.db import models


class Criticality(models.TextChoices):
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"
    LOW = "low", "Low"


class Application(models.Model):
    """A monitored application. Its criticality is the impact of the incidents it
    raises; its owner tier is where those incidents start."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    environment = models.CharField(max_length=50, default="production")
    criticality = models.CharField(max_length=8, choices=Criticality.choices, default=Criticality.MEDIUM)
    owner_tier = models.PositiveSmallIntegerField(default=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(owner_tier__gte=1, owner_tier__lte=3), name="application_owner_tier_1_3"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.environment})"
