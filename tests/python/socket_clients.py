"""Python processes logging into mplog-sink with nothing but the stdlib.

Used by tests/python.rs:

    socket_clients.py clients UNIX_PATH TCP_PORT EVENTS
        3 multiprocessing processes, py-1 and py-2 on the Unix socket, py-3
        over TCP; each logs EVENTS records cycling INFO, WARNING, CRITICAL,
        and every 100th is logger.exception() with a ZeroDivisionError.
        Message: "p{i} e{n}" (with " boom" for the exceptions).

    socket_clients.py hostile UNIX_PATH MARKER
        Sends one SocketHandler frame whose pickle calls os.system to touch
        MARKER when unpickled by Python, then prints "closed" if the sink
        closes the connection within 10 s, else "open".
"""
import logging
import logging.handlers
import multiprocessing
import os
import pickle
import socket
import struct
import sys


def work(i, target, events):
    logger = logging.getLogger(f"app.py{i}")
    logger.setLevel(logging.DEBUG)
    handler = logging.handlers.SocketHandler(*target)
    logger.addHandler(handler)
    levels = [logging.INFO, logging.WARNING, logging.CRITICAL]
    for n in range(1, events + 1):
        if n % 100 == 0:
            try:
                1 / 0
            except ZeroDivisionError:
                logger.exception("p%d e%d boom", i, n)
        else:
            logger.log(levels[n % 3], "p%d e%d", i, n)
    handler.close()


def clients(path, port, events):
    targets = {1: (path, None), 2: (path, None), 3: ("127.0.0.1", port)}
    procs = [
        multiprocessing.Process(target=work, name=f"py-{i}", args=(i, targets[i], events))
        for i in (1, 2, 3)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    codes = [p.exitcode for p in procs]
    print("exit codes", codes)
    return 0 if codes == [0, 0, 0] else 1


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def hostile(path, marker):
    record = {"name": "evil", "msg": Evil(marker), "levelno": 40, "levelname": "ERROR"}
    body = pickle.dumps(record, 1)
    assert b"system" in body
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(struct.pack(">L", len(body)) + body)
    s.settimeout(10)
    try:
        closed = s.recv(1) == b""
    except socket.timeout:
        closed = False
    except ConnectionResetError:
        closed = True
    print("closed" if closed else "open")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "clients":
        sys.exit(clients(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    sys.exit(hostile(sys.argv[2], sys.argv[3]))
