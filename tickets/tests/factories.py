from __future__ import annotations

import factory
from django.db import models

from helpdesk.roles import Role
from helpdesk.tests.factories import UserFactory
from tickets.models import Attachment, Category, Comment, KnownIssue, Level, Ticket


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category

    name = factory.Sequence(lambda n: f"Category {n}")
    scope_tier = 1


class TicketFactory(factory.django.DjangoModelFactory):
    """Rows for reads and set-up; changes under test go through services."""

    class Meta:
        model = Ticket

    title = factory.Faker("sentence", nb_words=6)
    description = factory.Faker("paragraph")
    requester = factory.SubFactory(UserFactory, role=Role.CUSTOMER)
    urgency = Level.MEDIUM
    impact = Level.MEDIUM
    priority = 3
    tier = 1


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Comment

    ticket = factory.SubFactory(TicketFactory)
    author = factory.SelfAttribute("ticket.requester")
    body = factory.Faker("paragraph")
    internal = False


class KnownIssueFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KnownIssue

    title = factory.Sequence(lambda n: f"Known issue {n}")
    symptoms = factory.Faker("sentence", nb_words=8)
    resolution_steps = factory.Faker("paragraph")


class AttachmentFactory(factory.django.DjangoModelFactory):
    """A row only: no file is written (listings never read the file)."""

    class Meta:
        model = Attachment

    comment = factory.SubFactory(CommentFactory)
    stored_name = factory.Sequence(lambda n: f"00/{n:032x}")
    name = factory.Sequence(lambda n: f"screenshot-{n}.png")
    size = 1024
    content_type = "image/png"
    sha256 = "0" * 64
    uploaded_by = factory.SelfAttribute("comment.author")


def if_match(obj: models.Model | int, model: type[models.Model] = Ticket) -> dict[str, str]:
    """Test-client kwargs naming the current version of a versioned object (PUT and
    PATCH need If-Match): a ticket or its id, or any model instance (categories,
    known issues, applications, metric sources, monitors, silences, escalation
    rules). The version is read from the database, not from the instance."""
    if isinstance(obj, models.Model):
        model, pk = type(obj), obj.pk
    else:
        pk = obj
    return {"HTTP_IF_MATCH": f'"{model._default_manager.get(pk=pk).version}"'}
