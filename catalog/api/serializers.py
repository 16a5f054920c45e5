"""The applications API's serializer (the viewset is monitoring's: it adds the health action)."""

from __future__ import annotations

from typing import Any

from django.utils.text import slugify
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from catalog.models import Application


class ApplicationSerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(
        max_length=100, required=False, validators=[UniqueValidator(queryset=Application.objects.all())]
    )
    owner_tier = serializers.IntegerField(min_value=1, max_value=3, default=2)

    class Meta:
        model = Application
        fields = ["id", "name", "slug", "environment", "criticality", "owner_tier", "version"]
        read_only_fields = ["id", "version"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs.get("slug") and self.instance is None:
            slug = slugify(f"{attrs['name']}-{attrs.get('environment', 'production')}")[:100] or "app"
            if Application.objects.filter(slug=slug).exists():
                raise serializers.ValidationError({"slug": ["An application with this slug exists; give another."]})
            attrs["slug"] = slug
        return attrs
