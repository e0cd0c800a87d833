"""Errors of the kernel model and of its `ip` front end.

`KernelError` is what the modelled kernel answers to a request it refuses: an
errno name and, where the real kernel attaches one, the extended-ack message.
`IpError` is what `Namespace.ip()` raises: exactly the text iproute2 would print
on stderr and the exit status it would return.
"""

import errno
import os


class KernelError(Exception):
    """A refusal by the modelled kernel: errno name plus optional extack text."""

    def __init__(self, errno_name: str, extack: str | None = None):
        self.errno_name = errno_name
        self.extack = extack
        super().__init__(extack or errno_name)

    @property
    def errno(self) -> int:
        return getattr(errno, self.errno_name)

    def rtnetlink_text(self) -> str:
        """What iproute2 prints for this answer (its rtnl_talk error path)."""
        if self.extack:
            msg = self.extack if self.extack.endswith(".") else self.extack + "."
            return f"Error: {msg}\n"
        return f"RTNETLINK answers: {os.strerror(self.errno)}\n"


class ToolError(Exception):
    """A failed command of a modelled tool: str(err) is its stderr, err.returncode its
    exit status, err.stdout what it printed before failing."""

    def __init__(self, stderr: str, returncode: int, stdout: str = ""):
        self.stderr = stderr
        self.returncode = returncode
        self.stdout = stdout
        super().__init__(stderr)

    def __str__(self) -> str:
        return self.stderr


class IpError(ToolError):
    """A failed `ip` command."""
