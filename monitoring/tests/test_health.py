"""App Score (A-F) and the application health endpoint."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from catalog.tests.factories import ApplicationFactory
from monitoring.models import Sample
from monitoring.services.health import app_scores, grade_for, score_from
from monitoring.tests.factories import AlertFactory, MonitorFactory
from tickets import services
from tickets.models import Kind

NOW = datetime(2026, 3, 9, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("score", "grade"), [(100, "A"), (90, "A"), (89.9, "B"), (80, "B"), (70, "C"), (60, "D"), (59.9, "F"), (0, "F")]
)
def test_grades(score, grade):
    assert grade_for(score) == grade


def test_score_components():
    assert score_from(satisfaction=None, error_rate=None, alert_time_pct=0).score == 100
    assert score_from(satisfaction=0.9, error_rate=None, alert_time_pct=0).score == 90
    assert score_from(satisfaction=1.0, error_rate=2.0, alert_time_pct=0).score == 90  # 5 points per percent
    assert score_from(satisfaction=1.0, error_rate=50.0, alert_time_pct=0).score == 70  # capped at 30
    assert score_from(satisfaction=1.0, error_rate=0, alert_time_pct=20).score == 90  # half a point per percent
    assert score_from(satisfaction=0.0, error_rate=100, alert_time_pct=100).score == 0  # never below 0


@pytest.mark.django_db
def test_app_scores_from_samples_and_alert_time(django_assert_max_num_queries):
    app, quiet = ApplicationFactory(), ApplicationFactory()
    satisfaction = MonitorFactory(application=app, query="satisfaction")
    errors = MonitorFactory(application=app, query="error_rate")
    Sample.objects.bulk_create(
        [Sample(monitor=satisfaction, at=NOW - timedelta(hours=h), value=v) for h, v in ((1, 0.9), (2, 0.8))]
        + [Sample(monitor=errors, at=NOW - timedelta(hours=1), value=1.0)]
        # Older than 7 days: not counted.
        + [Sample(monitor=satisfaction, at=NOW - timedelta(days=8), value=0.0)]
    )
    # Two overlapping alerts: 12 h and 6 h inside it count as 12 h of the 168 h window.
    AlertFactory(application=app, started_at=NOW - timedelta(hours=12), resolved_at=None, state="firing")
    AlertFactory(application=app, started_at=NOW - timedelta(hours=10), resolved_at=NOW - timedelta(hours=4),
                 state="resolved", fingerprint="other")  # fmt: skip
    with django_assert_max_num_queries(2):
        scores = app_scores([app.pk, quiet.pk], now=NOW)
    score = scores[app.pk]
    assert score.satisfaction == pytest.approx(0.85) and score.error_rate == pytest.approx(1.0)
    assert score.alert_time_pct == pytest.approx(100 * 12 / 168, abs=0.01)
    assert score.score == pytest.approx(85 - 5 - 0.5 * 100 * 12 / 168, abs=0.1)
    assert score.grade == "C"
    assert scores[quiet.pk].grade == "A"


@pytest.mark.django_db
def test_health_endpoint_lists_score_alerts_and_incidents(api, l1, customer):
    app = ApplicationFactory()
    alert = AlertFactory(application=app, state="firing", started_at=NOW)
    incident = services.ticket_create(actor=l1, requester=customer, title="Checkout down", kind=Kind.INCIDENT,
                                      major=True, application=app)  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        body = api.as_(l1).get(f"/api/v1/applications/{app.pk}/health/").json()
    assert body["application"] == app.pk and body["grade"] in "ABCDF"
    assert [a["id"] for a in body["firing_alerts"]] == [alert.pk]
    assert [t["id"] for t in body["open_incidents"]] == [incident.pk]
    assert api.as_(customer).get(f"/api/v1/applications/{app.pk}/health/").status_code == 403


@pytest.mark.django_db
def test_a_new_ticket_for_an_application_with_an_open_incident_suggests_it(api, l1, customer):
    app = ApplicationFactory()
    incident = services.ticket_create(actor=l1, requester=customer, title="Checkout down", kind=Kind.INCIDENT,
                                      major=True, application=app)  # fmt: skip
    body = api.as_(l1).post(
        "/api/v1/tickets/", {"title": "Cannot pay", "requester": customer.pk, "application": app.pk}
    ).json()
    assert [s["id"] for s in body["suggested_incidents"]] == [incident.pk]
    other = api.as_(l1).post("/api/v1/tickets/", {"title": "x", "requester": customer.pk}).json()
    assert "suggested_incidents" not in other
    # Customers are not offered internal incidents.
    mine = api.as_(customer).post("/api/v1/tickets/", {"title": "Cannot pay", "application": app.pk}).json()
    assert "suggested_incidents" not in mine


@pytest.mark.django_db
def test_resolve_linked_through_the_api(api, l1, l2, customer):
    app = ApplicationFactory()
    incident = services.ticket_create(actor=l2, requester=l2, title="Checkout down", kind=Kind.INCIDENT,
                                      major=True, application=app, tier=2)  # fmt: skip
    linked = [
        services.ticket_create(actor=l1, requester=customer, title=f"Cannot pay {n}", parent=incident) for n in range(2)
    ]
    url = f"/api/v1/tickets/{incident.pk}/resolve-linked/"
    assert api.as_(l1).post(url, {"message": "Fixed."}).status_code == 403  # tier 2 incident
    assert api.as_(customer).post(url, {"message": "Fixed."}).status_code == 404
    assert api.as_(l2).post(url, {"message": ""}).status_code == 400
    r = api.as_(l2).post(url, {"message": "The payment provider is back; please retry."})
    assert r.status_code == 200 and sorted(r.json()["resolved"]) == sorted(t.pk for t in linked)
    for ticket in linked:
        ticket.refresh_from_db()
        assert ticket.status == "resolved" and ticket.comments.get().body.startswith("The payment provider")


@pytest.mark.django_db
def test_alert_snapshot_endpoint(api, l1, customer):
    alert = AlertFactory(snapshot={"series": [["2026-03-09T12:00:00+00:00", 1.5]], "band": {"upper": 2.0},
                                   "thresholds": {"warning": 2.0}, "unit": "ms", "direction": "above",
                                   "taken_at": "2026-03-09T12:00:00+00:00"})  # fmt: skip
    body = api.as_(l1).get(f"/api/v1/alerts/{alert.pk}/snapshot/").json()
    assert body["series"] == [["2026-03-09T12:00:00+00:00", 1.5]] and body["thresholds"] == {"warning": 2.0}
    assert api.as_(customer).get(f"/api/v1/alerts/{alert.pk}/snapshot/").status_code == 403
