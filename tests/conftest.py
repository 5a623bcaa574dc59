"""Fixtures shared by the Django-side tests. Explicit, no autouse mocks."""

import io
from pathlib import Path

import pytest
from django.utils import translation
from PIL import Image

from tests.chromium import browser, new_page  # noqa: F401 (one Chromium for every folder)
from tests.factories import ProjectFactory, UserFactory


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path: Path) -> Path:
    # Each test gets its own media, upload and artifact folders, so files never leak between
    # tests or into the developer's var/.
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TWEEZERS_UPLOAD_DIR = tmp_path / "uploads"
    settings.TWEEZERS_ARTIFACT_DIR = tmp_path / "artifacts"
    settings.TWEEZERS_EMBEDDING_DIR = tmp_path / "embeddings"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _default_language():
    # A request in Korean leaves the test thread's language Korean (LocaleMiddleware activates
    # it and nothing deactivates it), and a later test's English message then depended on
    # which tests ran before it: every test starts and ends in the default language.
    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def image_project(db, user):
    return ProjectFactory(kind="image", created_by=user, classes=["cat", "dog"])


@pytest.fixture
def text_project(db, user):
    return ProjectFactory(kind="text", created_by=user, classes=["spam", "ham"])


def png_bytes(color: int = 0, size: tuple[int, int] = (8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def make_png():
    return png_bytes
