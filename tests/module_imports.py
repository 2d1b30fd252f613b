"""What a module of the integration imports, read from its source (every import, also those for the type checker)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parent.parent / "custom_components" / "sms_alerts"


def imports(path: Path) -> set[Path | str]:
    """Modules a file imports: package files by path, others by top-level name."""
    found: set[Path | str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.add((node.module or "").split(".")[0])
                continue
            base = path.parent
            for _ in range(node.level - 1):
                base = base.parent
            target = base.joinpath(*(node.module or "").split(".")) if node.module else base
            names = [alias.name for alias in node.names] if not node.module else [None]
            for name in names:
                module = target / name if name else target
                found.add(module.with_suffix(".py") if module.with_suffix(".py").exists() else module / "__init__.py")
    return found
