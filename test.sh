#!/usr/bin/env bash
# The test command: installs the Debian packages the tests need (Xen headers for the ABI checks, the
# real xenstore CLI and python3-pyxs to test our xenstore server against, openssl for the HTTPS tests'
# certificates, lintian to check the .deb that deploy/build-deb.sh builds, prometheus for promtool to
# check deploy/prometheus's rules and the dashboard's queries, chromium to load the status page headless)
# and the repository's .NET tools (dotnet-counters, dotnet-tools.json), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")"
need=()
for p in gcc libxen-dev xenstore-utils python3-pyxs iproute2 iputils-ping openssl lintian prometheus chromium; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "test.sh: missing Debian packages: ${need[*]} (run as root to install them)" >&2
  fi
fi
dotnet tool restore >/dev/null
dotnet test Backend.sln "$@"
