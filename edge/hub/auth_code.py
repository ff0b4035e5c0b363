"""Print the current TOTP code for a secret (for the demo and for tests; a phone app does this in the field).

    python -m edge.hub.auth_code BASE32SECRET
"""

import sys
import time

from edge.hub.auth import totp_code, totp_step

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m edge.hub.auth_code BASE32SECRET")
    print(totp_code(sys.argv[1], totp_step(time.time())))
