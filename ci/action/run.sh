#!/usr/bin/env bash
# action.yml, step 3: `tokenstorm run` with the action's inputs; the exit code as an output,
# report.md in the job summary, and the step failed (unless fail-on-verdict is false) only
# after the reports are written.
set -uo pipefail
args=(run)
if [ -n "${INPUT_CLIENT_CMD:-}" ]; then
    args+=(--client-cmd "$INPUT_CLIENT_CMD")
else
    args+=(--client "${INPUT_CLIENT:-reference}")
fi
for s in ${INPUT_SCENARIOS:-}; do
    args+=(--scenarios "$s")
done
out="${INPUT_OUT:-tokenstorm-report}"
args+=(--out "$out")
if [ -n "${INPUT_EXPECTED_FAILURES:-}" ] && [ -f "$INPUT_EXPECTED_FAILURES" ]; then
    args+=(--expected-failures "$INPUT_EXPECTED_FAILURES")
fi
if [ -n "${INPUT_BASELINE:-}" ]; then
    if [ -f "$INPUT_BASELINE" ]; then
        args+=(--baseline "$INPUT_BASELINE")
    else
        echo "tokenstorm: no baseline at $INPUT_BASELINE (the first run, or expired): judging without a comparison"
    fi
fi
if [ -n "${INPUT_ARGS:-}" ]; then
    read -r -a extra <<<"$INPUT_ARGS"
    args+=("${extra[@]}")
fi
echo "tokenstorm ${args[*]}"
code=0
tokenstorm "${args[@]}" || code=$?
echo "exit-code=$code" >>"${GITHUB_OUTPUT:?}"
if [ "${INPUT_SUMMARY:-true}" = true ] && [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
    if [ -f "$out/report.md" ]; then
        cat "$out/report.md" >>"$GITHUB_STEP_SUMMARY"
    else
        echo "tokenstorm wrote no report (exit code $code): see the log of this step." >>"$GITHUB_STEP_SUMMARY"
    fi
fi
case "$code" in
    0) echo "tokenstorm: every applicable MUST rule passed" ;;
    1) echo "::error::tokenstorm: a rule failed, the client crashed or hung, an expected failure is out of date, or a rule regressed against the baseline: see the job summary and $out/report.md" ;;
    2) echo "::error::tokenstorm: usage or input error (a flag, a scenario, the expected-failures file, or a client command that was not found): see the log above" ;;
    130) echo "::error::tokenstorm was interrupted; the report holds what it judged before" ;;
    *) echo "::error::tokenstorm exited with $code" ;;
esac
if [ "$code" -ne 0 ] && [ "${INPUT_FAIL_ON_VERDICT:-true}" = true ]; then
    exit "$code"
fi
exit 0
