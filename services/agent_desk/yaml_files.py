"""Reading the operator's YAML files (business hours, routing): one wording for a file
that cannot be read or is not YAML, which stops the desk at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def yaml_document(path: Path, error: type[Exception]) -> Any:
    """The file's document; ``error`` naming the file and what is wrong otherwise."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from None
