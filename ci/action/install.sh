#!/usr/bin/env bash
# action.yml, step 2: puts `tokenstorm` on the PATH. A release: its prebuilt archive for this
# runner, checked against the release's SHA-256 file (a mismatch fails; it is never built
# around). No such release or archive: `cargo install` of the action's own source, a no-op when
# the cache restored the same build.
#
# Inputs (environment): KIND (release | source), TAG, ACTION_REPOSITORY, INSTALL_ROOT,
# GITHUB_ACTION_PATH, GITHUB_PATH, GITHUB_OUTPUT; TOKENSTORM_RELEASES_URL replaces
# https://github.com/OWNER/REPO/releases/download (a mirror, or a test's server).
set -euo pipefail
root="${INSTALL_ROOT:?}"
mkdir -p "$root/bin"
exe=tokenstorm
case "${RUNNER_OS:-$(uname -s)}-${RUNNER_ARCH:-$(uname -m)}" in
    Linux-X64 | Linux-x86_64) triple=x86_64-unknown-linux-gnu ext=tar.gz ;;
    Linux-ARM64 | Linux-aarch64) triple=aarch64-unknown-linux-gnu ext=tar.gz ;;
    macOS-ARM64 | Darwin-arm64) triple=aarch64-apple-darwin ext=tar.gz ;;
    macOS-X64 | Darwin-x86_64) triple=x86_64-apple-darwin ext=tar.gz ;;
    Windows-X64) triple=x86_64-pc-windows-msvc ext=zip exe=tokenstorm.exe ;;
    *) triple="" ext="" ;;
esac

sha256() { if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1; }

from_release() {
    [ "${KIND:-}" = release ] && [ -n "$triple" ] || return 1
    local base="${TOKENSTORM_RELEASES_URL:-https://github.com/${ACTION_REPOSITORY:?}/releases/download}/${TAG:?}"
    local asset="tokenstorm-$TAG-$triple.$ext" tmp
    tmp=$(mktemp -d)
    if ! curl -fsSL --retry 3 -o "$tmp/$asset" "$base/$asset"; then
        echo "::notice::tokenstorm: no release archive $base/$asset; building from the action's source instead"
        return 1
    fi
    if ! curl -fsSL --retry 3 -o "$tmp/$asset.sha256" "$base/$asset.sha256"; then
        echo "::error::tokenstorm: the release has $asset but no $asset.sha256 to check it against"
        exit 1
    fi
    local want got
    want=$(cut -d' ' -f1 <"$tmp/$asset.sha256")
    got=$(sha256 "$tmp/$asset")
    if [ "$want" != "$got" ]; then
        echo "::error::tokenstorm: $asset does not match its SHA-256 (expected $want, got $got); not installing it"
        exit 1
    fi
    mkdir -p "$tmp/x"
    if [ "$ext" = zip ]; then unzip -q "$tmp/$asset" -d "$tmp/x"; else tar -xzf "$tmp/$asset" -C "$tmp/x"; fi
    local bin
    bin=$(find "$tmp/x" -name "$exe" -type f | head -n1)
    [ -n "$bin" ] || { echo "::error::tokenstorm: $asset holds no $exe"; exit 1; }
    install -m 0755 "$bin" "$root/bin/$exe"
    rm -rf "$tmp"
}

from_source() {
    local src="${GITHUB_ACTION_PATH:?}"
    if [ -x "$root/bin/$exe" ] && [ -f "$root/.source-key" ] && [ "$(cat "$root/.source-key")" = "${SOURCE_KEY:-}" ] && [ -n "${SOURCE_KEY:-}" ]; then
        echo "tokenstorm: the cached build of this source is installed"
        return 0
    fi
    command -v cargo >/dev/null || { echo "::error::tokenstorm: building from source needs Rust (cargo); add dtolnay/rust-toolchain before this action, or use a released version"; exit 1; }
    cargo install --locked --path "$src/harness" --root "$root" --force
    printf '%s' "${SOURCE_KEY:-}" >"$root/.source-key"
}

from_release || from_source
"$root/bin/$exe" --version
echo "$root/bin" >>"${GITHUB_PATH:?}"
echo "version=$("$root/bin/$exe" --version)" >>"${GITHUB_OUTPUT:?}"
