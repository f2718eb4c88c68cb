"""Where the running local stack listens, for the CLI's other commands.

`imgpipe run` writes STATE_DIR/stack.json once it answers (its API, its AWS
port, its process id) and removes it when it stops; `status`, `upload`,
`events` and `reprocess` read it when no --api / IMGPIPE_API / --aws-port is
given, so `make run PORT=8101` needs no flag on the commands that follow.
A file left by a stack that was killed names a process that is gone: it is
ignored. Standard library only: `status` starts fast (bench/startup.py).
"""

import json
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE_DIR_VARIABLE = "IMGPIPE_STATE_DIR"
FILE_NAME = "stack.json"


def default_state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_VARIABLE) or ROOT / ".local-state")


def record_ports(state_dir: Path, api: str, aws_port: int) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / FILE_NAME
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps({"api": api, "aws_port": aws_port, "pid": os.getpid()}), "utf-8")
    os.replace(temporary, path)


def forget_ports(state_dir: Path) -> None:
    (state_dir / FILE_NAME).unlink(missing_ok=True)


def _alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def running_stack(state_dir: Path | None = None) -> dict:
    """{"api": …, "aws_port": …} of the stack running from `state_dir`, or {} when none is."""
    try:
        found = json.loads(((state_dir or default_state_dir()) / FILE_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(found, dict) or not _alive(found.get("pid")):
        return {}
    return {k: found[k] for k in ("api", "aws_port") if k in found}
