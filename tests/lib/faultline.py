"""faultline.py - the line SAFEREASM_FAULT_NTH prints (tools/sr-fault.c).

"safereasm: fault injection SAFEREASM_FAULT_NTH=<spec>: <n> core
allocations, <m> failed", on stderr when the program ends; the tool and
plugin fault tests both read it.
"""

import re

INJ = re.compile(r"safereasm: fault injection SAFEREASM_FAULT_NTH=(\S+): (\d+) core "
                 r"allocations, (\d+) failed")
