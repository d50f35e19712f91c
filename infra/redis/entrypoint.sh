#!/bin/sh
# The official image's redis-server runs without protected mode unless told otherwise (it
# is reached from other containers, not from loopback). Debian's keeps it on, so a
# `redis-server --option ...` without a configuration file gets `--protected-mode no` first,
# which a later option can still change; a configuration file decides for itself.
if [ "${1:-}" = redis-server ]; then
  case "${2:-}" in
    "" | -*) shift; set -- redis-server --protected-mode no "$@" ;;
  esac
fi
exec "$@"
