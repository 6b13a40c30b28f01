"""Free TCP ports on 127.0.0.1 for throwaway test servers.

Ports come from 20000-30000, below Linux's default ephemeral range
(32768-60999), so outgoing connections on the box never hold them. A port is
free when a listener can bind it with SO_REUSEADDR, as PostgreSQL, PgBouncer
and pgrelay do: that ignores TIME-WAIT leftovers but not another listener.
"""

import random
import socket

PORT_RANGE = (20000, 30000)


def can_listen(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on host:port right now."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1)
        return True
    except OSError:
        return False
    finally:
        sock.close()


def free_ports(count: int, consecutive: bool = False, attempts: int = 500) -> list:
    """Return `count` distinct free ports; a run of neighbours if `consecutive`.

    Random starting points keep parallel test runs from picking the same ports.
    """
    low, high = PORT_RANGE
    rng = random.SystemRandom()
    for _ in range(attempts):
        if consecutive:
            start = rng.randrange(low, high - count)
            ports = list(range(start, start + count))
        else:
            ports = rng.sample(range(low, high), count)
        if all(can_listen(p) for p in ports):
            return ports
    raise RuntimeError(f"no {count} free port(s) found in {low}-{high}")


def free_port() -> int:
    """One free port."""
    return free_ports(1)[0]
