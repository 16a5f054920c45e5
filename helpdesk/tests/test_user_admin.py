"""The admin saves users through helpdesk.services: the role decides is_staff and
is_superuser there, as for users made through the API."""

from __future__ import annotations

import pytest
from django.urls import reverse

from helpdesk.models import User
from helpdesk.roles import Role

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
