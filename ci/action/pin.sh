#!/usr/bin/env bash
# action.yml, step 1: what to install. A version that looks like a release tag (the `version`
# input, else the ref the action was used at, such as v0.1.0) is looked for among the releases;
# anything else (a branch, a commit) means a build of the action's own source, cached under a
# key that changes with that source.
set -euo pipefail
version="${INPUT_VERSION:-}"
if [ -z "$version" ]; then version="${ACTION_REF:-}"; fi
if [[ "$version" =~ ^v[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.-]+)?$ ]]; then
    echo "kind=release" >>"$GITHUB_OUTPUT"
    echo "tag=$version" >>"$GITHUB_OUTPUT"
    echo "tokenstorm: installing release $version"
else
    cd "$GITHUB_ACTION_PATH"
    key=$(find Cargo.toml Cargo.lock model mock-idp harness reference-client reports scenarios adapters \
        -type f -not -path '*/target/*' -not -path '*/node_modules/*' -print0 |
        LC_ALL=C sort -z | xargs -0 cat | { sha256sum 2>/dev/null || shasum -a 256; } | cut -c1-16)
    echo "kind=source" >>"$GITHUB_OUTPUT"
    echo "source-key=$key" >>"$GITHUB_OUTPUT"
    echo "tokenstorm: '${version:-no ref}' is not a release tag: building the action's source (key $key)"
fi
