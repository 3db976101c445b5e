#!/bin/sh
# Installs the Cortex agent @AGENT_VERSION@ from the hub that served this script.
#
#   curl -fsSL https://<hub>/install.sh | sudo sh -s -- --endpoint https://<hub>/api/sites/<site> --tier <tier>
#
# This script only checks for Node.js @NODE_MAJOR@ or newer, downloads the agent (one file) from the hub named by
# --endpoint, checks it against the SHA-256 written below, and hands over to it: `cortex agent install` does the
# rest (its --help lists every option; the hub's docs/install.md explains what it creates). The node's token is asked
# for on the terminal, without echo, or read from --token-file <file> (mode 0600): never put it on a command line.
#
# Options of this script itself: --node <path>, the Node.js to use (default: node on PATH).
set -eu

AGENT_VERSION='@AGENT_VERSION@'
AGENT_PATH='@AGENT_PATH@'
AGENT_SHA256='@AGENT_SHA256@'
NODE_MAJOR=@NODE_MAJOR@

fail() {
  printf 'cortex install: %s\n' "$*" >&2
  exit 1
}

# The hub's origin (scheme://host[:port]) from what --endpoint accepts: the hub, a site, or the agent's connect URL.
hub_origin() {
  case $1 in
    https://* | wss://*) scheme=https ;;
    http://* | ws://*) scheme=http ;;
    *) fail "--endpoint must be an http(s) or ws(s) URL, not '$1'" ;;
  esac
  rest=${1#*://}
  host=${rest%%/*}
  case $host in
    '' | *[!A-Za-z0-9.:@%_\[\]-]*) fail "--endpoint has no usable host: '$1'" ;;
  esac
  printf '%s://%s' "$scheme" "${host#*@}"
}

download() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --proto '=http,https' -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    fail "neither curl nor wget is installed"
  fi
}

main() {
  node=node
  endpoint=
  # Takes out the options meant for this script and keeps the rest, in order, for the agent's installer.
  left=$#
  while [ "$left" -gt 0 ]; do
    arg=$1
    shift
    left=$((left - 1))
    case $arg in
      --node)
        [ "$left" -gt 0 ] || fail "--node needs the path of a Node.js binary"
        node=$1
        shift
        left=$((left - 1))
        continue
        ;;
      --node=*)
        node=${arg#--node=}
        continue
        ;;
      --endpoint) [ "$left" -gt 0 ] && endpoint=$1 ;;
      --endpoint=*) endpoint=${arg#--endpoint=} ;;
    esac
    set -- "$@" "$arg"
  done
  [ -n "$endpoint" ] || fail "--endpoint is required: the hub's site URL, as the hub printed it (https://<hub>/api/sites/<site>)"
  hub=$(hub_origin "$endpoint")

  command -v "$node" >/dev/null 2>&1 ||
    fail "Node.js $NODE_MAJOR or newer is needed and '$node' was not found (under sudo, PATH is sudo's secure_path: install Node system-wide or pass --node /path/to/node)"
  major=$("$node" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || fail "'$node' does not run"
  [ "$major" -ge "$NODE_MAJOR" ] 2>/dev/null || fail "Node.js $NODE_MAJOR or newer is needed; '$node' is $("$node" --version 2>/dev/null)"

  tmp=$(mktemp -d "${TMPDIR:-/tmp}/cortex-install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  trap 'exit 130' INT TERM
  download "$hub$AGENT_PATH" "$tmp/cortex.mjs" || fail "could not download the agent from $hub$AGENT_PATH"
  sum=$("$node" -e 'process.stdout.write(require("crypto").createHash("sha256").update(require("fs").readFileSync(process.argv[1])).digest("hex"))' "$tmp/cortex.mjs")
  [ "$sum" = "$AGENT_SHA256" ] ||
    fail "the agent downloaded from $hub$AGENT_PATH has SHA-256 $sum, not $AGENT_SHA256 as this script expects; nothing was installed (if the hub was just updated, fetch install.sh again)"

  echo "cortex install: agent $AGENT_VERSION downloaded from $hub and verified" >&2
  "$node" "$tmp/cortex.mjs" agent install "$@"
}

# Everything runs from here, so a download cut short runs nothing.
main "$@"
