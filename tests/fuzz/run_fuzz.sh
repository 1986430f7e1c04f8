#!/bin/sh
# Run a libFuzzer target for a short smoke: new inputs go to a scratch
# corpus in the build tree, the committed seeds are read from the source.
#   run_fuzz.sh TARGET SECONDS SCRATCH_DIR SEED_DIR
set -eu
target=$1 seconds=$2 scratch=$3 seeds=$4
mkdir -p "$scratch"
exec "$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -error_exitcode=1 "$scratch" "$seeds"
