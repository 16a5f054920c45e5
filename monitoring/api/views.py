from rest_framework import viewsets

from helpdesk.api.base import AgentReadManagerWrite
from monitoring.api.serializers import ApplicationSerializer
from monitoring.models import Application


class ApplicationViewSet(viewsets.ModelViewSet):
    serializer_class = ApplicationSerializer
    permission_classes = [AgentReadManagerWrite]
    queryset = Application.objects.all()
    filterset_fields = ["environment", "criticality", "owner_tier"]
