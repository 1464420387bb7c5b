# Shell functions shared by dev/run and dev/test; source it from the
# repository root.

PYTHON="${PYTHON:-python3}"
VENV=.venv

log() {
    printf '==> %s\n' "$*" >&2
}

# Run apt-get as root, or through sudo when this is not root.
apt_get() {
    if [ "$(id -u)" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get "$@"
    else
        sudo DEBIAN_FRONTEND=noninteractive apt-get "$@"
    fi
}

# Install the named Debian packages that are not installed yet.
apt_install() {
    local missing=()
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null \
            | grep -q "install ok installed"; then
            missing+=("$package")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    log "Installing Debian packages: ${missing[*]}"
    apt_get update -q
    apt_get install -y -q --no-install-recommends "${missing[@]}"
}

# Create .venv, installing python3-venv first where the interpreter lacks it.
ensure_venv() {
    if [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/pip" ]; then
        return 0
    fi
    local version
    version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
    if [ "$version" != "3.11" ]; then
        log "clusterdash needs Python 3.11, but $PYTHON is Python $version;" \
            "set PYTHON to a Python 3.11 interpreter."
        return 1
    fi
    log "Creating $VENV with $PYTHON"
    rm -rf "$VENV"
    if ! "$PYTHON" -m venv "$VENV" 2>/dev/null; then
        # Debian's python3 ships without ensurepip until python3-venv is in.
        rm -rf "$VENV"
        apt_install python3-venv
        "$PYTHON" -m venv "$VENV"
    fi
}

# Install a requirements file into .venv unless the same file (and every file
# it includes with -r) was installed before with the same interpreter.
install_requirements() {
    local file="$1"
    local stamp="$VENV/.installed-$(basename "$file").sha256"
    local digest
    digest="$({ cat requirements*.txt; "$VENV/bin/python" -VV; } | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$digest" ]; then
        return 0
    fi
    log "Installing $file into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$file"
    printf '%s\n' "$digest" >"$stamp"
}
