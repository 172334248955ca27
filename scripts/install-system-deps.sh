#!/usr/bin/env bash
# Installs the Debian packages that the tests and the demo run for real (pcscd + vpcd, Dovecot,
# Postfix, ClamAV, SoftHSM2, OpenSC, yubico-piv-tool, Chromium with a Japanese font for the UI
# screenshots, OpenSSL, gpgsm, 7z for the inspection's encrypted-archive tests).
# Idempotent: does nothing when every package is already installed. Never starts system services:
# the project runs its own private instances (see test/harness/).
set -euo pipefail

PACKAGES=(
  pcscd libpcsclite-dev vsmartcard-vpcd
  opensc yubico-piv-tool
  dovecot-imapd dovecot-lmtpd
  postfix
  clamav-daemon clamav
  softhsm2 libsofthsm2
  chromium fonts-ipafont-gothic
  openssl gpgsm
  p7zip-full
  iproute2 procps util-linux
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

echo "system packages: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; we run private instances only.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
# Keep package scripts from starting system daemons (no init system here, and we want private ones).
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi

APT_OPTS=(-o DPkg::Lock::Timeout=600 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
stamp=/var/lib/apt/periodic/ssmax-update-stamp
if [ ! -f "$stamp" ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit)" ]; then
  $SUDO apt-get "${APT_OPTS[@]}" update -qq
  $SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
fi
$SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends "${missing[@]}"
echo "system packages: done"
