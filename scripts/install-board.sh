#!/usr/bin/env bash
# Install hromada-edge on a Raspberry Pi OS / Debian board, then provision it.
#
#   sudo scripts/install-board.sh [provision flags…]
#   e.g. sudo scripts/install-board.sh --roles console --name consoles-3 --site rada --code HRM1-…
#
# Installs the Debian packages the board's roles may use, a virtual
# environment in /opt/hromada/venv with this checkout, the docs, and then runs
# `hromada provision` (which writes /etc/hromada/node.toml, makes the key,
# enrolls, and installs and starts the systemd unit). Safe to run again.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
here=$(cd "$(dirname "$0")/.." && pwd)
prefix=/opt/hromada

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# python3-venv for the environment; espeak-ng and alsa-utils for spoken calls;
# nut-client for upsc; libsdl2 for pygame screens; python3-lgpio for GPIO.
apt-get install -y -q --no-install-recommends python3 python3-venv espeak-ng alsa-utils nut-client \
  libsdl2-2.0-0 python3-lgpio || apt-get install -y -q --no-install-recommends python3 python3-venv

id hromada >/dev/null 2>&1 || useradd --system --home-dir /var/lib/hromada --shell /usr/sbin/nologin hromada
for group in gpio dialout spi video audio input render; do
  getent group "$group" >/dev/null && usermod -a -G "$group" hromada || true
done

install -d -m 0755 "$prefix"
[ -x "$prefix/venv/bin/python" ] || python3 -m venv --system-site-packages "$prefix/venv"
"$prefix/venv/bin/pip" install -q -c "$here/constraints.txt" "$here"
rm -rf "$prefix/docs" && cp -r "$here/docs" "$prefix/docs"

exec "$prefix/venv/bin/hromada" provision --venv "$prefix/venv" "$@"
