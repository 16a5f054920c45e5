import pytest

pytestmark = pytest.mark.django_db


def test_ticket_flow(api, customer, l1, l2):
    r = api.as_(l1).post("/api/v1/tickets/", {"title": "Printer on fire", "requester_email": "Bob@Example.com", "impact": "high", "urgency": "high"})
    assert r.status_code == 201, r.data
    t = r.data
    assert t["priority"] == 1 and t["priority_label"] == "critical" and t["status"] == "new"
    tid = t["id"]
    r = api.as_(l1).post(f"/api/v1/tickets/{tid}/claim/")
    assert r.status_code == 200 and r.data["status"] == "open", r.data
    r = api.as_(l1).post(f"/api/v1/tickets/{tid}/escalate/", {"to_tier": 2, "reason": "needs logs", "summary": "s", "steps_tried": "x"})
    assert r.status_code == 200 and r.data["tier"] == 2 and r.data["assignee"] is None, r.data
    r = api.as_(l2).post("/api/v1/tickets/next/", {})
    assert r.status_code == 200 and r.data["id"] == tid
    r = api.as_(l2).post(f"/api/v1/tickets/{tid}/transition/", {"status": "closed"})
    assert r.status_code == 409 and "allowed" in r.data, r.data
    r = api.as_(l2).get(f"/api/v1/tickets/{tid}/events/")
    assert r.status_code == 200, r.data
    print([e["kind"] for e in r.data["results"]])
    r = api.as_(l2).get("/api/v1/tickets/?status=open,new&assignee=me&ordering=-priority")
    assert r.status_code == 200 and r.data["count"] == 1, r.data
    r = api.as_(l2).get("/api/v1/tickets/?status=bogus")
    assert r.status_code == 400, r.data
    print(r.data)
    r = api.as_(l2).get("/api/v1/tickets/?requester=999999999999999999999")
    assert r.status_code == 400, r.data
    r = api.as_(customer).get(f"/api/v1/tickets/{tid}/")
    assert r.status_code == 404
    r = api.as_(None).get(f"/api/v1/tickets/{tid}/")
    assert r.status_code == 401
    r = api.as_(l2).patch(f"/api/v1/tickets/{tid}/", {"urgency": "low"}, HTTP_IF_MATCH='"1"')
    assert r.status_code == 412, r.data
    r = api.as_(l2).patch(f"/api/v1/tickets/{tid}/", {"status": "closed"})
    assert r.status_code == 400, r.data
    r = api.as_(l2).get("/api/schema/")
    assert r.status_code == 200
