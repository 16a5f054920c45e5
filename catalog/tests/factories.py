"""Factories for the catalog's rows (applications). Set-up only: changes under test go through services."""

from __future__ import annotations

import factory

from catalog.models import Application


class ApplicationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Application

    name = factory.Sequence(lambda n: f"App {n}")
    slug = factory.Sequence(lambda n: f"app-{n}")
    environment = "production"
    criticality = "medium"
    owner_tier = 2
