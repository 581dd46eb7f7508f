"""The testing kit's own tests: the Katalog they drive lives in ./katalogs."""

from pathlib import Path

import pytest

KATALOGS = Path(__file__).parent / "katalogs"


@pytest.fixture
def shop_katalog() -> Path:
    return KATALOGS / "shop.yaml"
