"""Where each run's private clone lives, and its removal when the run ends."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path


def workspace_path(root: Path, run_id: str) -> Path:
    return root / run_id


async def remove_workspace(path: Path) -> None:
    await asyncio.to_thread(shutil.rmtree, path, ignore_errors=True)
