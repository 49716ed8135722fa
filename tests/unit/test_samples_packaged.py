"""The samples shipped inside the package are exact copies of the shared recorded samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import PACKAGED_SAMPLES, SHARED_SAMPLES

# SHARED_SAMPLES is in the repository's sibling `shared/` directory (CI puts a copy beside its
# clone).
pytestmark = pytest.mark.skipif(
    not SHARED_SAMPLES.is_dir(),
    reason=f"no shared samples at {SHARED_SAMPLES} (expected ../shared beside the repository)",
)


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def test_the_package_holds_every_shared_sample_and_nothing_else() -> None:
    assert _names(SHARED_SAMPLES)
    assert _names(PACKAGED_SAMPLES) == _names(SHARED_SAMPLES)


@pytest.mark.parametrize("name", _names(SHARED_SAMPLES))
def test_the_packaged_copy_is_byte_identical(name: str) -> None:
    packaged = PACKAGED_SAMPLES / name

    assert packaged.is_file(), f"app/samples/{name} is missing"
    assert packaged.read_bytes() == (SHARED_SAMPLES / name).read_bytes(), (
        f"app/samples/{name} differs from {SHARED_SAMPLES / name}"
    )
