"""Forms of the ticket pages: they parse and bound the input; the services decide."""

from __future__ import annotations

from django import forms

from catalog.models import Application
from helpdesk import roles
from helpdesk.errors import MAX_ID
from tickets.models import Category, Kind, KnownIssue, Level, Status

MAX_TEXT = 50_000
LEVEL_CHOICES = [(Level.HIGH, "High"), (Level.MEDIUM, "Medium"), (Level.LOW, "Low")]


class ConsoleForm(forms.Form):
    """What an L1 agent types while the customer is on the phone."""

    requester_email = forms.EmailField(label="Requester e-mail", max_length=150)
    application = forms.ModelChoiceField(
        queryset=Application.objects.order_by("name"), required=False, empty_label="(none)"
    )
    category = forms.ModelChoiceField(queryset=Category.objects.order_by("name"), required=False, empty_label="(none)")
    kind = forms.ChoiceField(choices=Kind.choices, initial=Kind.SERVICE_REQUEST)
    title = forms.CharField(max_length=200)
    description = forms.CharField(max_length=MAX_TEXT, required=False, widget=forms.Textarea)
    urgency = forms.ChoiceField(choices=LEVEL_CHOICES, initial=Level.MEDIUM, widget=forms.RadioSelect)
    impact = forms.ChoiceField(choices=LEVEL_CHOICES, initial=Level.MEDIUM, widget=forms.RadioSelect)
    # An open incident of the application to link to (radios in the incident banner).
    parent = forms.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class PortalTicketForm(forms.Form):
    """A customer's new request: the agents set urgency and impact."""

    title = forms.CharField(max_length=200)
    description = forms.CharField(max_length=MAX_TEXT, required=False, widget=forms.Textarea)
    application = forms.ModelChoiceField(
        queryset=Application.objects.order_by("name"), required=False, empty_label="(not sure)"
    )


class CommentForm(forms.Form):
    body = forms.CharField(label="Comment", max_length=MAX_TEXT, widget=forms.Textarea)
    internal = forms.BooleanField(label="Internal note (agents only)", required=False)
    # Size and type are checked by the attachment service, as for the API.
    file = forms.FileField(label="Attach a file", required=False, allow_empty_file=True)


def _tier_choices() -> list[tuple[int, str]]:
    return [(tier, f"L{tier}") for tier in roles.tiers()]


class EscalateForm(forms.Form):
    to_tier = forms.TypedChoiceField(label="To tier", coerce=int, choices=_tier_choices)
    reason = forms.CharField(max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 2}))
    summary = forms.CharField(
        label="Summary for the next tier", max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    steps_tried = forms.CharField(
        label="Steps already tried", max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class DeescalateForm(forms.Form):
    to_tier = forms.TypedChoiceField(label="To tier", coerce=int, choices=_tier_choices)
    reason = forms.CharField(max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 2}))


class TransitionForm(forms.Form):
    status = forms.ChoiceField(choices=Status.choices)
    resolution = forms.CharField(
        max_length=MAX_TEXT, required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text="Needed to resolve."
    )


class LinkForm(forms.Form):
    """Link to an incident by its number (HD-000042) or id."""

    incident = forms.RegexField(
        label="Incident number",
        regex=r"^\s*(?:[Hh][Dd]-)?0*[0-9]{1,18}\s*$",  # ASCII digits: \d also matches "٣"
        max_length=30,
        error_messages={"invalid": "Give a ticket number such as HD-000042."},
    )

    def clean_incident(self) -> int:
        value = self.cleaned_data["incident"].strip().upper().removeprefix("HD-")
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise forms.ValidationError("No such ticket.")
        return number


class MajorForm(forms.Form):
    """Flag an incident major: tickets may then be linked to it (an alert's incident may be anyway)."""

    major = forms.BooleanField(label="Major incident: other tickets may be linked to it", required=False)


class QueueFilterForm(forms.Form):
    """The queue's filters; invalid values are a 400 like the API's."""

    status = forms.ChoiceField(choices=[("", "Active"), *Status.choices], required=False)
    priority = forms.TypedChoiceField(
        choices=[("", "Any")] + [(p, f"P{p}") for p in range(1, 6)], coerce=int, required=False, empty_value=None
    )
    assignee = forms.ChoiceField(choices=[("", "Anyone"), ("none", "Unassigned"), ("me", "Me")], required=False)
    breached = forms.ChoiceField(choices=[("", "Any"), ("true", "Breached")], required=False)
    q = forms.CharField(label="Search", max_length=200, required=False)
    ordering = forms.ChoiceField(
        choices=[
            ("priority", "Priority"),
            ("resolution_due_at", "Due soonest"),
            ("-created_at", "Newest"),
            ("created_at", "Oldest"),
            ("-updated_at", "Recently updated"),
        ],
        required=False,
    )


class ApplyKnownIssueForm(forms.Form):
    known_issue = forms.IntegerField(min_value=1, max_value=MAX_ID)
    resolve = forms.BooleanField(label="Resolve the ticket with these steps", required=False)


class KnownIssueForm(forms.ModelForm):
    """Managers write the knowledge base."""

    class Meta:
        model = KnownIssue
        fields = ["title", "symptoms", "resolution_steps", "application", "category", "is_active"]
        widgets = {
            "symptoms": forms.Textarea(attrs={"rows": 4}),
            "resolution_steps": forms.Textarea(attrs={"rows": 8}),
        }
        help_texts = {"resolution_steps": "Posted to the customer as a public comment when applied (Markdown)."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("symptoms", "resolution_steps"):
            self.fields[name].max_length = MAX_TEXT


class KnownIssueSearchForm(forms.Form):
    q = forms.CharField(label="Search", max_length=200, required=False)


class ResolveLinkedForm(forms.Form):
    message = forms.CharField(
        label="Message to the customers of the linked tickets",
        max_length=MAX_TEXT,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Posted as a public comment on each linked ticket, which is then resolved with it.",
    )


class CcForm(forms.Form):
    """Add or remove one CC address on the ticket page; the service checks the
    address and the version the page showed (two agents editing the list at once)."""

    cc = forms.CharField(label="Add a CC address", max_length=320)
    version = forms.IntegerField(min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)
