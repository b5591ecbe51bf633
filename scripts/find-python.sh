#!/usr/bin/env bash
# Print the path of a Python >= 3.12 interpreter, newest first, or explain and fail.
# pyenv shims answer "command not found" for versions that are installed but not
# selected, so each candidate is asked to run, not just looked up on PATH.
set -u
candidates=(python3.14 python3.13 python3.12)
while IFS= read -r version_dir; do
    for exe in "$version_dir"/bin/python3.1[234]; do
        [ -x "$exe" ] && candidates+=("$exe")
    done
done < <(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[234]* 2>/dev/null | sort -rV)
candidates+=(python3)
for candidate in "${candidates[@]}"; do
    path=$(command -v "$candidate" 2>/dev/null) || continue
    if "$path" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
        "$path" -c 'import sys; print(sys.executable)'
        exit 0
    fi
done
echo "No Python >= 3.12 found (tried python3.14, python3.13, python3.12, pyenv versions, python3)." >&2
echo "Install one, e.g. 'apt-get install python3.12' or 'pyenv install 3.13', and run make again." >&2
exit 1
