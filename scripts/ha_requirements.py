"""Print the packages a Home Assistant installation would fetch at its first start, one per line.

Run with the Python of that installation: it reads the manifests of the integrations Home Assistant always
sets up and those of default_config, with their dependencies. scripts/setup installs them with the release,
so that its first start neither waits for them nor depends on installing packages at run time.
"""

from __future__ import annotations

import json
from pathlib import Path

import homeassistant
from homeassistant import bootstrap

COMPONENTS = Path(homeassistant.__file__).parent / "components"


def requirements(domains: set[str]) -> list[str]:
    """Return the requirements of the domains and of everything they depend on."""
    seen: set[str] = set()
    found: set[str] = set()
    todo = list(domains)
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        manifest = COMPONENTS / domain / "manifest.json"
        if not manifest.exists():
            continue
        data = json.loads(manifest.read_text(encoding="utf-8"))
        found.update(data.get("requirements", []))
        todo += data.get("dependencies", [])
    return sorted(found)


if __name__ == "__main__":
    print("\n".join(requirements({*bootstrap.DEFAULT_INTEGRATIONS, "default_config", "config", "api"})))
