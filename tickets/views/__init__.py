"""Ticket pages, one module per page family: the L1 console (console), the ticket
page and its actions (ticket), the tier queues (queues), the customer portal
(portal) and the knowledge base (known_issues). Thin views over the ticket
selectors and services, the same code paths as the API; service errors become the
page's status (400, 403, 404, 409) with the message shown. tickets/urls.py names
each view by its module."""
