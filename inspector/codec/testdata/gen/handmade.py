"""Writes the seeds no installed tool can produce, byte by byte.

Run: python3 handmade.py OUTDIR
- ruby_marshal/rails.bin: a Rails-like session hash in Ruby Marshal 4.8
  (Ruby is not installed here). Strings are written as Ruby does: an ivar
  wrapper (I) around a raw string (") with the :E => true encoding flag; the
  symbol :E is written once and then linked (;).
- php/php5_undefined.bin, php_binary/php5_undefined.bin: PHP 5's markers for
  undefined session variables ("!name|" and the 0x80 length bit), which
  PHP 7+ no longer writes.
"""
import os
import sys

out = sys.argv[1]


def rstr(b, first=False):
    assert 0 < len(b) < 123
    enc = bytes([0x49, 0x22, len(b) + 5]) + b + bytes([0x06])
    enc += (bytes([0x3A, 0x06, 0x45]) if first else bytes([0x3B, 0x00])) + b"T"
    return enc


marshal = bytes([0x04, 0x08, 0x7B, 3 + 5])
marshal += rstr(b"session_id", True) + rstr(b"9f8e7d6c5b4a39281706f5e4d3c2b1a0")
marshal += rstr(b"user_id") + bytes([0x69, 42 + 5])
marshal += rstr(b"_csrf_token") + rstr(b"q1w2e3r4t5y6u7i8o9p0")

files = {
    "ruby_marshal/rails.bin": marshal,
    "php/php5_undefined.bin": b'!gone|user|s:3:"ada";!also_gone|',
    "php_binary/php5_undefined.bin": b'\x84gone\x04users:3:"ada";',
}
for name, data in files.items():
    os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
