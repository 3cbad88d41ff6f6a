#!/usr/bin/python3
"""edge_probe.py — raw-socket probes of the gateway's edge (t002x tests).

What curl cannot show: when an answer arrives relative to the body, and what
happens to connections that are held open, trickle, or exceed a cap. Every
wait is bounded by the caller's generous limit; nothing here measures speed.

  early PORT METHOD PATH LENGTH [HEADER...]
      Sends only the headers of a request announcing LENGTH body bytes (with
      "Expect: 100-continue"), then reads. Prints the status of the first
      response ("100" when the server wants the body, i.e. it has not
      decided) and, for a final response, its body on the next line; "none"
      when nothing came within 20 s. The body is never sent.

  hold PORT N
      Opens N connections and keeps them open, silent; prints "held N" once
      all are connected, then reads lines on stdin: "probe" opens one more
      connection and asks GET /healthz on it, printing its status or
      "refused" (closed or reset without an answer); "close" closes one held
      connection; "quit" ends.

  idle PORT SECS
      Connects and sends nothing: prints "closed" once the server closes the
      connection, "open" if it has not within SECS.

  trickle PORT PATH SECS LENGTH [HEADER...]
      Sends the headers of a POST announcing LENGTH body bytes, then one
      byte every 0.2 s: prints "closed" once the server closes the
      connection (or answers), "open" if it has not within SECS.
"""
import socket
import sys
import time

HOST = "127.0.0.1"


def connect(port):
    s = socket.create_connection((HOST, int(port)), timeout=30)
    return s


def head(method, path, length, headers):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Content-Length: {length}",
             "Content-Type: application/json"]
    lines += headers
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(s, deadline):
    """Status and body of one response; (None, b'') on EOF or timeout."""
    data = b""
    while b"\r\n\r\n" not in data:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            return None, b""
        if not chunk:
            return None, b""
        data += chunk
    header, _, rest = data.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    length = 0
    for line in header.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        s.settimeout(max(0.1, deadline - time.time()))
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ConnectionResetError):
            break
        if not chunk:
            break
        rest += chunk
    return status, rest[:length]


def early(port, method, path, length, *headers):
    s = connect(port)
    s.sendall(head(method, path, length, ["Expect: 100-continue"] + list(headers)))
    status, body = read_response(s, time.time() + 20)
    if status is None:
        print("none")
    else:
        print(status)
        print(body.decode(errors="replace"))


def probe(port):
    try:
        s = connect(port)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, _ = read_response(s, time.time() + 20)
        s.close()
    except OSError:
        status = None
    return "refused" if status is None else str(status)


def hold(port, n):
    held = [connect(port) for _ in range(int(n))]
    print(f"held {len(held)}", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "probe":
            print(probe(port), flush=True)
        elif command == "close":
            if held:
                held.pop().close()
            print("closed", flush=True)
        elif command == "quit":
            break
    for s in held:
        s.close()


def wait_closed(s, secs):
    deadline = time.time() + float(secs)
    while time.time() < deadline:
        s.settimeout(0.2)
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            continue
        except ConnectionResetError:
            return True
    return False


def idle(port, secs):
    s = connect(port)
    print("closed" if wait_closed(s, secs) else "open")


def trickle(port, path, secs, length, *headers):
    s = connect(port)
    s.sendall(head("POST", path, int(length), list(headers)))
    deadline = time.time() + float(secs)
    sent = 0
    while time.time() < deadline and sent < int(length) - 1:
        try:
            s.sendall(b" ")
        except (BrokenPipeError, ConnectionResetError):
            print("closed")
            return
        sent += 1
        s.settimeout(0.2)
        try:
            data = s.recv(65536)
            if not data or data.startswith(b"HTTP/1.1 4") or data.startswith(b"HTTP/1.1 2"):
                print("closed")
                return
        except socket.timeout:
            pass
        except ConnectionResetError:
            print("closed")
            return
    print("open")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    {"early": early, "hold": hold, "idle": idle, "trickle": trickle}[command](*args)


if __name__ == "__main__":
    main()
