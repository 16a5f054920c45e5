"""The admin saves users through helpdesk.services: the role decides is_staff and
is_superuser there, as for users made through the API."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from helpdesk.models import User
from helpdesk.roles import Role
from helpdesk.services import user_email_bounce_clear

pytestmark = pytest.mark.django_db


def change_form_data(client, user: User, **overrides) -> dict:
    form = client.get(reverse("admin:helpdesk_user_change", args=[user.pk])).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "password"}
    data.update(groups=[], user_permissions=[], is_active="on")
    data.update({"last_login_0": "", "last_login_1": "", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00"})
    data = {k: v for k, v in data.items() if k not in ("last_login", "date_joined", "is_staff", "is_superuser")}
    data.update(overrides)
    return data


@pytest.mark.parametrize(("role", "staff", "superuser"), [(Role.MANAGER, True, False), (Role.ADMIN, True, True)])
def test_a_user_added_in_the_admin_gets_the_flags_of_the_role(admin_client, role, staff, superuser):
    password = "a-long-enough-password-2026"
    response = admin_client.post(
        reverse("admin:helpdesk_user_add"),
        {"username": "newbie", "usable_password": "true", "password1": password, "password2": password,
         "role": role, "email": "newbie@example.com"},
    )  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(username="newbie")
    assert (user.role, user.is_staff, user.is_superuser) == (role, staff, superuser)


def test_a_role_change_in_the_admin_moves_the_flags_and_ignores_hand_set_ones(admin_client, manager):
    url = reverse("admin:helpdesk_user_change", args=[manager.pk])
    response = admin_client.post(url, change_form_data(admin_client, manager, role=Role.L1, is_superuser="on"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    manager.refresh_from_db()
    assert (manager.role, manager.is_staff, manager.is_superuser) == (Role.L1, False, False)


def test_a_new_email_address_forgets_the_old_ones_bounce(admin_client, customer):
    """docs/EMAIL.md "Bounces": the flag belongs to the address; the admin's save goes through user_save."""
    User.objects.filter(pk=customer.pk).update(email_bouncing_since=timezone.now(), email_bounce_reason="5.1.1")
    url = reverse("admin:helpdesk_user_change", args=[customer.pk])
    response = admin_client.post(url, change_form_data(admin_client, customer, first_name="Renamed"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.email_bouncing_since is not None  # same address: still bouncing
    response = admin_client.post(url, change_form_data(admin_client, customer, email="fixed@example.com"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    customer.refresh_from_db()
    assert customer.email == "fixed@example.com"
    assert customer.email_bouncing_since is None and customer.email_bounce_reason == ""


def test_clearing_a_bounce(customer):
    assert user_email_bounce_clear(user=customer) is False
    User.objects.filter(pk=customer.pk).update(email_bouncing_since=timezone.now(), email_bounce_reason="5.1.1")
    stale = User.objects.get(pk=customer.pk)
    assert user_email_bounce_clear(user=customer) is True  # the row decides, not the (stale) instance
    assert (stale.email_bouncing_since is not None) and user_email_bounce_clear(user=stale) is False
    customer.refresh_from_db()
    assert customer.email_bouncing_since is None and customer.email_bounce_reason == ""
