from tests.features.conftest import catalog, events  # noqa: F401  (shared inline frames)
