"""The benchmarks are scripts run from bench/ (their imports are `from harness import ...`,
as mypy sees them too): their tests import them the same way. Appended, so no bench module
shadows another of the same name; a regular module still wins over the `mutants/` folder
mutmut leaves at the repo root, which Python would only take as a namespace package."""

import sys

from tests.conftest import REPO_ROOT

sys.path.append(str(REPO_ROOT / "bench"))
