from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models

from helpdesk import roles
from helpdesk.roles import Role


class UserManager(DjangoUserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):  # type: ignore[override]
        # `createsuperuser --noinput` makes the first admin (SPEC 6).
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER, db_index=True)

    objects = UserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
        ]

    @property
    def tier(self) -> int | None:
        return roles.tier_of(self)

    @property
    def is_agent(self) -> bool:
        return roles.is_agent(self)

    @property
    def is_manager(self) -> bool:
        return roles.is_manager(self)

    def __str__(self) -> str:
        return self.get_full_name() or self.username
