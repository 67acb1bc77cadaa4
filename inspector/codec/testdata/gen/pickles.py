"""Writes Django-like pickle session payloads (protocols 0, 2 and 4).

Run: python3 pickles.py OUTDIR. sessionscope never unpickles these; they are
seeds for the sniffer and the opaque view.
"""
import datetime
import os
import pickle
import sys

out = os.path.join(sys.argv[1], "pickle")
os.makedirs(out, exist_ok=True)
session = {
    "_auth_user_id": "42",
    "_auth_user_backend": "django.contrib.auth.backends.ModelBackend",
    "_auth_user_hash": "3f1c0ffee0ddba11f00d5ca1ab1e5eed5b3f1c0ffee0ddba11deadbeef",
    "cart": {"sku-1": 2},
    "last_seen": datetime.datetime(2026, 11, 22, 1, 0, 0),
}
for proto in (0, 2, 4):
    with open(os.path.join(out, f"django_p{proto}.bin"), "wb") as f:
        f.write(pickle.dumps(session, protocol=proto))
