#!/bin/sh
# Migrate, then replace this shell with the given web command.
#
#   infra/start-web.sh promptledger serve
#   infra/start-web.sh functions-framework --source functions/main.py --target registry
#
# For platforms without a pre-deploy/release phase (Render's free plan): migrations are
# idempotent and serialised by an advisory lock (schema/env.py), so several instances starting
# at once are safe. Where a pre-deploy command exists, use it instead and start the command
# directly: migrations then never delay a web process.
set -eu
promptledger migrate
exec "$@"
