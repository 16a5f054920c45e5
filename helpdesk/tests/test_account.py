"""The user's own settings page (/account/) and its service."""

from __future__ import annotations

import pytest

from helpdesk.errors import InvalidInput
from helpdesk.services import NOTIFICATION_SETTINGS, user_notification_settings_update
from helpdesk.tests.pages import assert_csp_clean, assert_labelled_controls

ACCOUNT = "/account/"


@pytest.mark.parametrize("role", ["customer", "l1", "l2", "l3", "manager", "admin_user"])
def test_every_user_sees_their_name_and_address_and_the_header_links_it(request, client, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    response = client.get(ACCOUNT)
    html = assert_csp_clean(response)
    assert_labelled_controls(html)
    assert user.email in html and user.get_full_name() in html
    assert 'href="/account/" aria-current="page"' in html
    agent = role != "customer"
    assert ('name="notify_assigned"' in html) is agent


def test_an_agent_turns_a_switch_off_and_on(client, l2):
    client.force_login(l2)
    response = client.post(ACCOUNT, {"notify_assigned": "on", "notify_escalated": "on"})
    assert response.status_code == 303
    l2.refresh_from_db()
    assert (l2.notify_assigned, l2.notify_customer_reply, l2.notify_escalated) == (True, False, True)
    html = client.get(ACCOUNT).content.decode()
    assert 'name="notify_customer_reply" id="id_notify_customer_reply"' in html
    assert 'name="notify_customer_reply" id="id_notify_customer_reply" checked' not in html
    client.post(ACCOUNT, {name: "on" for name in NOTIFICATION_SETTINGS})
    l2.refresh_from_db()
    assert l2.notify_customer_reply


def test_a_customer_cannot_set_agent_switches(client, customer):
    customer.notify_assigned = False
    customer.save()
    client.force_login(customer)
    response = client.post(ACCOUNT, {"notify_assigned": "on"})
    assert response.status_code == 400
    assert "Only agents" in response.content.decode()
    customer.refresh_from_db()
    assert customer.notify_assigned is False
    assert client.post(ACCOUNT, {}).status_code == 303


def test_the_service_refuses_unknown_fields_and_non_booleans(l1, customer):
    with pytest.raises(InvalidInput):
        user_notification_settings_update(user=l1, changes={"is_superuser": True})
    with pytest.raises(InvalidInput):
        user_notification_settings_update(user=l1, changes={"notify_assigned": "yes"})
    with pytest.raises(InvalidInput):
        user_notification_settings_update(user=customer, changes={"notify_escalated": False})
    l1.refresh_from_db()
    assert l1.notify_assigned and not l1.is_superuser


def test_the_service_writes_only_what_differs(l1, django_assert_num_queries):
    with django_assert_num_queries(0):
        user_notification_settings_update(user=l1, changes={"notify_assigned": True})
    with django_assert_num_queries(1):
        user_notification_settings_update(user=l1, changes={"notify_assigned": False, "notify_escalated": True})
    l1.refresh_from_db()
    assert not l1.notify_assigned


def test_get_and_post_only(client, l1):
    client.force_login(l1)
    assert client.put(ACCOUNT).status_code == 405


def test_an_agent_turns_every_switch_off(client, l1):
    client.force_login(l1)
    assert client.post(ACCOUNT, {}).status_code == 303
    l1.refresh_from_db()
    assert not (l1.notify_assigned or l1.notify_customer_reply or l1.notify_escalated)
