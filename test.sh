#!/usr/bin/env bash
# The project's test command: builds the solution and runs every test project, then prints
# "N passed, N failed[, N skipped]" computed from the TRX result files the runs wrote.
# Needs only the .NET SDK; anything else a test needs is installed or started by the tests' fixtures.
set -uo pipefail
cd "$(dirname "$0")"

results="$(pwd)/.test-results"
rm -rf "$results"
mkdir -p "$results"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# The integration fixture writes which broker it chose (real / Testcontainers / embedded) here.
export STREAMING_TEST_RESULTS="$results"

echo "==> building"
if ! dotnet build Streaming.sln -c Release -nologo -clp:ErrorsOnly; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "==> PostgreSQL server for the ledger tests (installed if missing)"
tools/ensure-postgres.sh || echo "PostgreSQL server unavailable: the PostgreSQL ledger tests will fail, not skip"

# The schema-evolution gate: every schema in schemas/ against its released versions (docs/schema-evolution.md).
echo "==> schema-evolution gate"
gate_failed=0
dotnet run --no-build -c Release --project src/Streaming.Cli -- schemas check || gate_failed=1

echo "==> testing (results in $results)"
# One run per test project, each writing its own TRX file: in one solution-wide run, two projects finishing in the
# same instant could write the same file name and one project's results would silently vanish from the count.
projects=$(find tests -mindepth 2 -maxdepth 2 -name '*.csproj' | sort)
expected=0
test_exit=0
for project in $projects; do
  name=$(basename "$project" .csproj)
  expected=$((expected + 1))
  echo "--> $name"
  dotnet test --project "$project" -c Release --no-build \
    --results-directory "$results" --report-xunit-trx --report-xunit-trx-filename "$name.trx" --timeout 20m "$@"
  code=$?
  if [ "$code" -ne 0 ]; then
    test_exit=$code
  fi
done

if [ -f "$results/integration-stack.txt" ]; then
  sed 's/^/[integration] /' "$results/integration-stack.txt"
fi

passed=0 failed=0 skipped=0 files=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
  total=$(get total); executed=$(get executed); p=$(get passed); f=$(get failed); e=$(get error); t=$(get timeout)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0}))
  skipped=$((skipped + ${total:-0} - ${executed:-0}))
done

if [ "$files" -ne "$expected" ]; then
  echo "expected test results from $expected projects, found $files"
  failed=$((failed + 1))
fi
if [ "$gate_failed" -ne 0 ]; then
  echo "schema-evolution gate failed (streaming schemas check)"
  failed=$((failed + 1))
fi
if [ "$test_exit" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # the runner failed without a failing test (crash, hang, timeout): count it, never report green
  echo "test runner exited with $test_exit"
  failed=1
fi

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
