#!/usr/bin/python3
"""A slowloris client for the strata serve tests.

    slowloris.py PORT N SECONDS SOURCE_ADDRESS

Opens N connections from SOURCE_ADDRESS to 127.0.0.1:PORT; N-1 of them send the start of a GET
and then one more byte of a header every second, the last sends the headers of a POST and then
one byte of its body a second. Stops after SECONDS or when the server has closed them all, and
prints one JSON line: how many connections the server refused at once ("refused": closed within
2 s without a reply: the tests' request timeout, which answers 408, is 3 s), how many it answered 408 ("timed_out"), the longest any stayed open
("longest"), how many were still open at the end ("open").
"""
import json
import select
import socket
import sys
import time

port, n, secs, src = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
host = b'127.0.0.1:%d' % port
conns = []
for i in range(n):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(('127.0.0.1', port))
    if i < n - 1:
        s.sendall(b'GET /api/regions HTTP/1.1\r\nHost: ' + host + b'\r\nX-Slow: ')
    else:
        s.sendall(b'POST /api/derive HTTP/1.1\r\nHost: ' + host +
                  b'\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{')
    conns.append({'sock': s, 'start': time.time(), 'end': None, 'got': b''})

stop = time.time() + secs
next_byte = time.time() + 1
while time.time() < stop:
    live = [c for c in conns if c['end'] is None]
    if not live:
        break
    ready, _, _ = select.select([c['sock'] for c in live], [], [], 0.1)
    for c in live:
        if c['sock'] in ready:
            try:
                data = c['sock'].recv(65536)
            except OSError:
                data = b''
            if data:
                c['got'] += data
            else:
                c['end'] = time.time()
    if time.time() >= next_byte:
        next_byte += 1
        for c in live:
            if c['end'] is None:
                try:
                    c['sock'].send(b'x')
                except OSError:
                    c['end'] = time.time()

now = time.time()
refused = sum(1 for c in conns if c['end'] is not None and not c['got'] and c['end'] - c['start'] < 2)
timed_out = sum(1 for c in conns if c['got'].startswith(b'HTTP/1.1 408 '))
longest = max((c['end'] or now) - c['start'] for c in conns)
still = sum(1 for c in conns if c['end'] is None)
body = next((c['got'] for c in conns if c['got']), b'').split(b'\r\n\r\n', 1)[-1].decode('utf-8', 'replace')
print(json.dumps({'refused': refused, 'timed_out': timed_out, 'longest': round(longest, 1),
                  'open': still, 'body': body}))
