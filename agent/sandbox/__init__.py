"""Where the repository's own code runs: the test command, and its setup command.

That code is not TaskMaster's: the repository's `.taskmaster.md` names it, and the model
may have just written the tests it runs, after reading a ticket anyone can edit. So it
runs in a `Sandbox` (chosen by `TASKMASTER_SANDBOX`, see `agent.integrations.registry`):

- `bwrap` (the default): bubblewrap, with a read-only view of the system and the
  toolchains on PATH, the workspace as the only writable place besides a private /tmp,
  `.git` read-only, new PID/IPC/UTS/network namespaces, an environment built from an
  allowlist, and limits on processes, memory and file size.
- `off`: the same allowlisted environment, nothing else; every review says so.
"""
