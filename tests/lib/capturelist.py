"""capturelist.py - the captures a test walks (Python 3 standard library).

One definition of "a capture file" for the tool, soak and plugin tests.
"""

import os

# File endings Wireshark's and libpcap's readers take, as committed here.
CAPTURE_ENDINGS = (".pcap", ".pcapng", ".cap", ".pcap.gz", ".pcapng.gz", ".cap.gz")


def list_captures(root, subdirs=("",)):
    """Every capture under root/<subdir> (recursively), as absolute paths,
    sorted."""
    out = []
    for sub in subdirs:
        for d, _, files in os.walk(os.path.join(root, sub)):
            for f in files:
                if f.endswith(CAPTURE_ENDINGS):
                    out.append(os.path.abspath(os.path.join(d, f)))
    return sorted(out)
