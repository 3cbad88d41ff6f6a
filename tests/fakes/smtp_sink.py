#!/usr/bin/python3
"""smtp_sink.py PORT DIR [SOCKS_PORT] — an SMTP server that keeps every
message as a file.

For the integration tests (tests/lib/suite.sh starts it with
suite_smtp_start): it listens on 127.0.0.1:PORT (0 = any free port), prints
the port as the first line of stdout, and writes each message it accepts to
DIR/<n>.eml, n = 1, 2, 3 ..., atomically (a hidden temporary file renamed),
with one "X-Sink-Rcpt: <address>" header per recipient put in front. The
message is stored as it arrived, CRLF line endings included, after undoing
the sender's dot-stuffing.

It speaks what libcurl needs and no more: greeting, EHLO (SIZE, 8BITMIME, no
STARTTLS, no AUTH), HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT; any
other command is answered 500.

With SOCKS_PORT (0 = any free port) it also listens there as a SOCKS5
proxy (no authentication, CONNECT only) whose every connection, whatever
host it asks for, is an SMTP session with this sink: a client told to use
the proxy (ALL_PROXY=socks5h://127.0.0.1:SOCKS_PORT) can then name the mail
server smtp://mail.example.com and reach the sink without leaving loopback.
That port is printed as the second line of stdout, and each CONNECT is
logged to stderr ("smtp_sink: socks connect to HOST:PORT").

A slow server on demand: while the file DIR/.hold exists, a new session
gets no greeting (so nothing can be sent through it) until the file is
removed; "smtp_sink: holding a session" goes to stderr when one starts to
wait. Tests use it to show that an answer came while the sink was held. It runs until killed; SIGTERM is a clean
stop (exit status 0, as suite_stop expects of a well-behaved process),
whatever sessions are open. Python 3 standard
library only (smtpd and asyncore are gone from 3.12).
"""

import os
import re
import signal
import socket
import socketserver
import sys
import threading
import time

MAX_LINE = 4096                     # commands and text lines (RFC 5321 says 1000)
MAX_MESSAGE = 10 * 1024 * 1024
IDLE_SECONDS = 120

PATH_RE = re.compile(r"^(FROM|TO):\s*<([^<>]*)>(?:\s+(.*))?$", re.IGNORECASE)


class Sink(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port, directory, handler=None):
        super().__init__(("127.0.0.1", port), handler or Session)
        self.directory = directory
        self.lock = threading.Lock()
        # Go on after the highest number there: a restarted sink must not
        # overwrite what the test has not read yet.
        self.count = max([int(name[:-4]) for name in os.listdir(directory)
                          if re.fullmatch(r"\d+\.eml", name)] or [0])

    def store(self, recipients, data):
        """Write one message; returns its file name."""
        head = b"".join(b"X-Sink-Rcpt: " + r.encode("utf-8", "replace") + b"\r\n"
                        for r in recipients)
        # Numbered and written under the lock, so the files are 1..n with no
        # gaps and a reader never finds n+1 before n.
        with self.lock:
            self.count += 1
            name = "%d.eml" % self.count
            temp = os.path.join(self.directory, ".%s.tmp" % name)
            with open(temp, "wb") as f:
                f.write(head + data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temp, os.path.join(self.directory, name))
        return name


class Session(socketserver.StreamRequestHandler):
    timeout = IDLE_SECONDS

    def reply(self, *lines):
        """Send a reply; several lines make a multi-line reply."""
        out = []
        for i, line in enumerate(lines):
            code, text = line
            sep = " " if i == len(lines) - 1 else "-"
            out.append("%d%s%s\r\n" % (code, sep, text))
        self.wfile.write("".join(out).encode("utf-8"))
        self.wfile.flush()

    def readline(self):
        """One line with its ending, b"" at EOF; None when too long."""
        line = self.rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            return None
        return line

    def reset(self):
        self.sender = None
        self.recipients = []

    def hold(self):
        """Wait while DIR/.hold exists."""
        path = os.path.join(self.server.directory, ".hold")
        if os.path.exists(path):
            sys.stderr.write("smtp_sink: holding a session\n")
            sys.stderr.flush()
        while os.path.exists(path):
            time.sleep(0.05)

    def handle(self):
        self.reset()
        try:
            self.hold()
            self.reply((220, "127.0.0.1 smtp_sink ESMTP ready"))
            while self.command():
                pass
        except (OSError, socket.timeout):
            pass                    # the client went away or went quiet

    def command(self):
        """Read and answer one command; False to end the session."""
        line = self.readline()
        if line is None:
            self.reply((500, "line too long"))
            return False
        if not line:
            return False
        text = line.rstrip(b"\r\n").decode("utf-8", "replace")
        verb, _, arg = text.partition(" ")
        verb = verb.upper()
        arg = arg.strip()

        if verb == "EHLO":
            self.reset()
            self.reply((250, "127.0.0.1 greets %s" % (arg or "you")),
                       (250, "SIZE %d" % MAX_MESSAGE), (250, "8BITMIME"))
        elif verb == "HELO":
            self.reset()
            self.reply((250, "127.0.0.1 greets %s" % (arg or "you")))
        elif verb == "MAIL":
            m = PATH_RE.match(arg)
            if not m or m.group(1).upper() != "FROM":
                self.reply((501, "syntax: MAIL FROM:<address>"))
            elif self.sender is not None:
                self.reply((503, "nested MAIL command"))
            else:
                self.sender = m.group(2)
                self.reply((250, "sender ok"))
        elif verb == "RCPT":
            m = PATH_RE.match(arg)
            if self.sender is None:
                self.reply((503, "need MAIL before RCPT"))
            elif not m or m.group(1).upper() != "TO" or not m.group(2):
                self.reply((501, "syntax: RCPT TO:<address>"))
            else:
                self.recipients.append(m.group(2))
                self.reply((250, "recipient ok"))
        elif verb == "DATA":
            if arg:
                self.reply((501, "DATA takes no argument"))
            elif not self.recipients:
                self.reply((503, "need RCPT before DATA"))
            else:
                return self.data()
        elif verb == "RSET":
            self.reset()
            self.reply((250, "reset"))
        elif verb == "NOOP":
            self.reply((250, "ok"))
        elif verb == "QUIT":
            self.reply((221, "bye"))
            return False
        else:
            self.reply((500, "command not recognised"))
        return True

    def data(self):
        """Read the message up to CRLF.CRLF, undoing the dot-stuffing."""
        self.reply((354, "end data with <CR><LF>.<CR><LF>"))
        parts, size, too_big = [], 0, False
        while True:
            line = self.readline()
            if line is None:
                self.reply((500, "line too long"))
                return False
            if not line:
                return False        # EOF inside DATA: nothing is stored
            if line in (b".\r\n", b".\n"):
                break
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > MAX_MESSAGE:
                too_big = True
            elif not too_big:
                parts.append(line)
        if too_big:
            self.reply((552, "message exceeds %d bytes" % MAX_MESSAGE))
        else:
            name = self.server.store(self.recipients, b"".join(parts))
            sys.stderr.write("smtp_sink: %s for %s\n" % (name, ", ".join(self.recipients)))
            sys.stderr.flush()
            self.reply((250, "ok: queued as %s" % name))
        self.reset()
        return True


class SocksSession(Session):
    """A SOCKS5 handshake (RFC 1928), then an SMTP session on the socket."""

    def read_exactly(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise OSError("the SOCKS client went away")
        return data

    def handle(self):
        try:
            version, count = self.read_exactly(2)
            methods = self.read_exactly(count)
            if version != 5 or 0 not in methods:
                self.wfile.write(b"\x05\xff")
                return
            self.wfile.write(b"\x05\x00")
            self.wfile.flush()
            version, command, _, kind = self.read_exactly(4)
            if kind == 1:
                host = socket.inet_ntop(socket.AF_INET, self.read_exactly(4))
            elif kind == 4:
                host = socket.inet_ntop(socket.AF_INET6, self.read_exactly(16))
            elif kind == 3:
                host = self.read_exactly(self.read_exactly(1)[0]).decode("ascii", "replace")
            else:
                raise OSError("bad SOCKS address type")
            port = int.from_bytes(self.read_exactly(2), "big")
            if version != 5 or command != 1:
                self.wfile.write(b"\x05\x07\x00\x01\x00\x00\x00\x00\x00\x00")
                return
            sys.stderr.write("smtp_sink: socks connect to %s:%d\n" % (host, port))
            sys.stderr.flush()
            self.wfile.write(b"\x05\x00\x00\x01\x7f\x00\x00\x01\x00\x00")
            self.wfile.flush()
        except (OSError, socket.timeout, ValueError):
            return
        super().handle()


def main():
    if len(sys.argv) not in (3, 4) or not all(a.isdigit() for a in sys.argv[1:2] + sys.argv[3:]):
        sys.stderr.write("usage: smtp_sink.py PORT DIR [SOCKS_PORT]   (PORT 0: any free port)\n")
        return 2
    directory = sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    server = Sink(int(sys.argv[1]), directory)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(server.server_address[1], flush=True)
    if len(sys.argv) == 4:
        socks = Sink(int(sys.argv[3]), directory, SocksSession)
        socks.store = server.store      # one numbering for both doors
        threading.Thread(target=socks.serve_forever, daemon=True).start()
        print(socks.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
