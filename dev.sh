#!/usr/bin/env bash
# One entry point for people and CI, on a Debian machine that has only python3:
#   ./dev.sh demo [--browser|--headless]   set everything up, start the demo
#   ./dev.sh test [pytest args]            set everything up, run ruff and the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: venv support, the browser and virtual screen for the UI tests, Chinese
# fonts, the X11 libraries Qt's window needs, makensis for the Windows installer script, and
# PostgreSQL for the team-mode tests (they start a throwaway cluster of their own).
BASE_PKGS=(python3-venv)
WINDOW_PKGS=(fonts-noto-cjk libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-image0
  libxcb-render-util0 libxcb-xinerama0 libxcb-randr0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1
  libxkbcommon-x11-0 libnss3 libegl1 libgl1 libfontconfig1 libdbus-1-3)
TEST_PKGS=(chromium xvfb poppler-utils nsis postgresql "${WINDOW_PKGS[@]}")

missing_pkgs() {
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

install_pkgs() {
  local missing
  missing=$(missing_pkgs "$@" | tr '\n' ' ')
  [ -z "${missing// /}" ] && return 0
  command -v apt-get >/dev/null || { echo "缺少系统软件包：$missing（请手动安装）" >&2; return 1; }
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "安装系统软件包：$missing"
  $sudo apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

setup_python() {
  local extras=$1
  if [ ! -x .venv/bin/python ]; then
    # Debian's python3 needs python3-venv before it can make a venv.
    python3 -m venv .venv 2>/dev/null || { rm -rf .venv; install_pkgs "${BASE_PKGS[@]}"; python3 -m venv .venv; }
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[$extras]"
}

cmd=${1:-}
shift || true
case "$cmd" in
  demo)
    if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then install_pkgs "${WINDOW_PKGS[@]}"; fi
    setup_python gui
    exec .venv/bin/socialfee demo "$@"
    ;;
  test)
    install_pkgs "${TEST_PKGS[@]}"
    setup_python gui,test,build
    .venv/bin/ruff check .
    exec .venv/bin/pytest -q "$@"
    ;;
  *)
    echo "用法：./dev.sh demo [--browser|--headless]  或  ./dev.sh test [pytest 参数]" >&2
    exit 2
    ;;
esac
