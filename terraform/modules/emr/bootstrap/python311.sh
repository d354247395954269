#!/bin/bash
# EMR bootstrap action (every node, before Hadoop/Spark start): install Python 3.11 for the
# ranklake env archive. EMR 7.x runs Amazon Linux 2023, whose default python3 is 3.9; AL2023
# ships python3.11 as a separate package that installs /usr/bin/python3.11. The venv-pack
# archive (make package) does not carry an interpreter: its bin/python3.11 is a symlink to
# /usr/bin/python3.11. libgomp is lightgbm's OpenMP runtime (its wheel does not bundle it).
#
#   args: [expected architecture]  e.g. x86_64 -- the archive's native wheels are built for one
#                                  architecture; a mismatching node fails here, not in a job.
# Uploaded by terraform to s3://<artifacts bucket>/bootstrap/python311.sh (modules/emr).
# Packages come from the AL2023 repositories (on S3: reachable through the VPC's S3 gateway
# endpoint or the NAT gateway).
set -euo pipefail

expected_arch="${1:-}"
arch="$(uname -m)"
if [[ -n "$expected_arch" && "$arch" != "$expected_arch" ]]; then
  echo "ranklake bootstrap: node is $arch but the env archive is built for $expected_arch" >&2
  exit 1
fi

. "${RANKLAKE_OS_RELEASE:-/etc/os-release}"  # overridable for the script's tests
if [[ "${ID:-}" != "amzn" || "${VERSION_ID:-}" != "2023" ]]; then
  echo "ranklake bootstrap: expected Amazon Linux 2023 (EMR 7.x), got ${PRETTY_NAME:-unknown}" >&2
  exit 1
fi

# idempotent: dnf does nothing when both are installed; retried for transient repo errors
for attempt in 1 2 3; do
  if sudo dnf install -y -q python3.11 libgomp; then
    break
  fi
  if [[ $attempt == 3 ]]; then
    echo "ranklake bootstrap: dnf install python3.11 libgomp failed 3 times" >&2
    exit 1
  fi
  sleep $((attempt * 10))
done

/usr/bin/python3.11 -c 'import sys, ssl, ctypes; assert sys.version_info[:2] == (3, 11), sys.version'
echo "ranklake bootstrap: $(/usr/bin/python3.11 -V) at /usr/bin/python3.11 on $arch"
