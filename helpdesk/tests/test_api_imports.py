"""DRF's settings name classes in helpdesk.api.base and helpdesk.api.authentication; resolving them must work
whichever module a fresh process touches first (system checks run in no fixed order)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "setting", ["DEFAULT_AUTHENTICATION_CLASSES", "DEFAULT_PAGINATION_CLASS", "DEFAULT_PARSER_CLASSES", "EXCEPTION_HANDLER"]
)
def test_api_settings_resolve_before_rest_framework_views_is_imported(setting):
    code = (
        "import django; django.setup(); import sys; "
        "assert 'rest_framework.views' not in sys.modules; "
        "from rest_framework.settings import api_settings; "
        f"value = api_settings.{setting}; print(value, getattr(value, '__module__', ''))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "helpdesk.settings", "PATH": "/usr/bin:/bin", "HELPDESK_VAR_DIR": str(ROOT / "var")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "helpdesk.api." in result.stdout
