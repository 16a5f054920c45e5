"""Factories for the core's rows (users). Set-up only: changes under test go through services."""

from __future__ import annotations

import factory

from helpdesk.models import User
from helpdesk.roles import Role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    role = Role.CUSTOMER
    password = factory.django.Password("pass-Word-123")
