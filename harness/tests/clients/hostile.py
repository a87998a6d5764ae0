#!/usr/bin/env python3
"""A hostile client of the driver protocol (version 1), standard library only: it says hello,
then misbehaves at its first command. argv[1] is the mode; argv[2] a marker the test looks for
among running processes (every process of the client, forks included, carries it).

Modes:
  bigline     8 MiB on stdout without a newline, then sleeps
  junk        8 MiB of random bytes on stdout, then never answers
  stderr      16 MiB of stderr on one line, then "last words" and exit 3
  grandchild  forks a child (same process group) that sleeps holding the pipes; exits 0
  setsid      the same, but the child leaves the process group (setsid) first
  sigterm     ignores SIGTERM, starts a child that ignores it too, answers, then ignores
              `shutdown`
  files       fills its state directory with a FIFO, a link to /dev/zero and a link out of
              it, writes a file beside it (outside), and answers
  conns       opens 300 connections to the mock, holds them, and answers
  deaf        never reads its stdin (the harness's writes fill the pipe), never answers
"""
import json, os, signal, socket, sys, time

MODE = sys.argv[1]
MARK = sys.argv[2] if len(sys.argv) > 2 else "-"


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def answer(cid):
    send({"type": "result", "id": cid, "ok": False, "error": "hostile", "description": MODE})


if MODE == "sigterm":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
send({"type": "hello", "protocol": 1, "client": "hostile-" + MODE, "version": "0",
      "flows": ["client_credentials"], "features": ["persist", "call_api"]})
if MODE == "deaf":
    print("not listening " + MARK, file=sys.stderr, flush=True)
    time.sleep(600)
held = []
for line in sys.stdin:
    msg = json.loads(line)
    cid, op = msg["id"], msg["op"]
    if MODE == "bigline":
        print("flooding stdout " + MARK, file=sys.stderr, flush=True)
        sys.stdout.write("x" * (8 << 20))
        sys.stdout.flush()
        time.sleep(600)
    elif MODE == "junk":
        print("junk on stdout " + MARK, file=sys.stderr, flush=True)
        sys.stdout.buffer.write(os.urandom(8 << 20))
        sys.stdout.flush()
        time.sleep(600)
    elif MODE == "stderr":
        sys.stderr.write("y" * (16 << 20) + "\n")
        print("last words " + MARK, file=sys.stderr, flush=True)
        sys.exit(3)
    elif MODE in ("grandchild", "setsid"):
        if os.fork() == 0:
            if MODE == "setsid":
                os.setsid()
            time.sleep(600)
            os._exit(0)
        print("leaving a child behind " + MARK, file=sys.stderr, flush=True)
        os._exit(0)
    elif MODE == "sigterm":
        if op == "shutdown":
            print("ignoring shutdown " + MARK, file=sys.stderr, flush=True)
            time.sleep(600)
        if not held and os.fork() == 0:
            time.sleep(600)
            os._exit(0)
        held.append(1)
        answer(cid)
    elif MODE == "files":
        state = os.environ["TOKENSTORM_STATE_DIR"]
        for name, make in (("cache.fifo", lambda p: os.mkfifo(p)),
                           ("zero", lambda p: os.symlink("/dev/zero", p)),
                           ("up", lambda p: os.symlink("..", p))):
            p = os.path.join(state, name)
            if not os.path.lexists(p):
                make(p)
        with open(os.path.join(state, "..", "outside-" + MARK), "w") as f:
            f.write("written outside the state directory\n")
        answer(cid)
        if op == "shutdown":
            sys.exit(0)
    elif MODE == "conns":
        if not held:
            host, port = os.environ["TOKENSTORM_AUTHORITY"].split("/")[2].rsplit(":", 1)
            for _ in range(300):
                held.append(socket.create_connection((host, int(port))))
            print("holding %d connections %s" % (len(held), MARK), file=sys.stderr, flush=True)
        answer(cid)
        if op == "shutdown":
            sys.exit(0)
