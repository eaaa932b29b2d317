"""Run a command on a pseudo-terminal of a given size; what it printed (for commands that look at isatty)."""
import fcntl
import os
import struct
import subprocess
import termios


def run_on_pty(argv, columns=80, rows=24, env=None, timeout=60):
    """(exit code, output with CRLF as LF) of argv run with stdout and stderr on a pty."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the pty
                break
            if not chunk:
                break
            out += chunk
        code = proc.wait(timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    return code, out.decode("utf-8", "replace").replace("\r\n", "\n")
