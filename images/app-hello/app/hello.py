#!/usr/bin/python3
"""hello.py - the app-hello example image (images/Makefile, doc/images.md).

Run as `labrun app-hello.sqfs`.  Shows that the layers below work: Python
and numpy come from the python layer, the C library from the debian layer,
this file from the app-hello layer on top.  Exits 1 if the product is wrong.
"""
import platform
import sys

import numpy as np

print(f"hello from Python {platform.python_version()}, numpy {np.__version__}")

a = np.arange(1.0, 7.0).reshape(2, 3)
b = np.arange(1.0, 7.0).reshape(3, 2)
c = a @ b
print("a =", a.tolist())
print("b =", b.tolist())
print("a @ b =", c.tolist())

expected = np.array([[22.0, 28.0], [49.0, 64.0]])
if not np.array_equal(c, expected):
    print(f"wrong product: expected {expected.tolist()}", file=sys.stderr)
    sys.exit(1)
