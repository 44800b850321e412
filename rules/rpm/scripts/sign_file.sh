#!/bin/sh
# A detached binary signature of one file with the `[rpm-sign]` key (gnupg.sh).
#
#   sign_file.sh FINGERPRINT GNUPG_HOME SIGN_TIME INPUT OUTPUT
set -eu
. ./gnupg.sh
keel_gnupg_home "$2"
keel_detach_sign "$1" "$3" "$5" "$4"
