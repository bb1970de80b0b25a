#!/usr/bin/env bash
# Installs the phone locker register as a service on Raspberry Pi OS Bookworm or Debian 12.
# Run as root from a checkout:   sudo deploy/install.sh [--kiosk]
# Safe to run again (an upgrade after `git pull`): the settings in /etc/phone-locker/env and
# the data in /var/lib/phone-locker are kept; settings new in this version are added, commented.
#
#   --kiosk            also this Pi's touchscreen (Chromium at boot) and its kiosk agent
#   --no-caddy         no HTTPS proxy (another proxy stands in front; see WEB_BIND in the env file)
#   --public-url URL   how staff reach the server [default: https://HOSTNAME.local]
#   --kiosk-user NAME  the desktop user whose session shows the kiosk [default: uid 1000's]
#   --no-start         install and enable, start nothing
#   --uninstall        remove the services and the program; keep the data and the settings
#   --purge-data       with --uninstall: also delete the data, settings and backups
#   --root DIR         install under DIR instead of / (for tests): no apt, no user, no systemctl,
#                      the commands it would run are written to DIR/install-commands.log
#   --venv DIR         use this existing virtual environment instead of making one (tests)
set -euo pipefail

ROOT=""
KIOSK=0 CADDY=1 START=1 UNINSTALL=0 PURGE=0
PUBLIC_URL_OPTION="" KIOSK_USER="" VENV_FROM=""
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICE_USER=phone-locker

usage() { sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
fail() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "==> $*"; }

while (($#)); do
  case "$1" in
    --kiosk) KIOSK=1 ;;
    --no-caddy) CADDY=0 ;;
    --no-start) START=0 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge-data) PURGE=1 ;;
    --public-url) PUBLIC_URL_OPTION="${2:?--public-url needs an address}"; shift ;;
    --kiosk-user) KIOSK_USER="${2:?--kiosk-user needs a user name}"; shift ;;
    --root) ROOT="$(realpath -m "${2:?--root needs a folder}")"; shift ;;
    --venv) VENV_FROM="$(realpath "${2:?--venv needs a folder}")"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; fail "unknown option $1" ;;
  esac
  shift
done
((PURGE && !UNINSTALL)) && fail "--purge-data goes with --uninstall"
[[ $(id -u) == 0 || -n $ROOT ]] || fail "run it as root: sudo $0 $*"

# Every path the install touches, under ROOT when testing.
APP="$ROOT/opt/phone-locker"
CONF_DIR="$ROOT/etc/phone-locker"
ENV_FILE="$CONF_DIR/env"
DATA="$ROOT/var/lib/phone-locker"
BACKUPS="$ROOT/var/backups/phone-locker"
UNITS="$ROOT/etc/systemd/system"
BIN="$ROOT/usr/local/bin"
CADDYFILE="$ROOT/etc/caddy/Caddyfile"
UNIT_NAMES=(phone-locker-web.service phone-locker-agent.service
            phone-locker-backup.service phone-locker-backup.timer
            phone-locker-purge.service phone-locker-purge.timer)

# A command that changes the system outside ROOT: run it, or (under --root) record it.
system() {
  if [[ -n $ROOT ]]; then
    printf '%q ' "$@" >>"$ROOT/install-commands.log"
    echo >>"$ROOT/install-commands.log"
  else
    "$@"
  fi
}

# A flask command as the service's user with the service's settings (as the units run it).
app_flask() {
  local as_user=(runuser -u "$SERVICE_USER" --)
  [[ -n $ROOT ]] && as_user=()
  # shellcheck source=/dev/null
  (cd "$APP" && set -a && . "$ENV_FILE" && set +a &&
     "${as_user[@]}" "$APP/.venv/bin/flask" --app kiosk "$@")
}

# The units as shipped, with every path under ROOT when testing.
install_unit() {
  sed -e "s#/opt/phone-locker#$APP#g" -e "s#/etc/phone-locker#$CONF_DIR#g" \
      -e "s#/var/lib/phone-locker#$DATA#g" -e "s#/var/backups/phone-locker#$BACKUPS#g" \
      "$1" >"$2.new"
  chmod 0644 "$2.new"
  mv "$2.new" "$2"
}

uninstall() {
  say "Stopping and removing the services"
  local unit
  for unit in "${UNIT_NAMES[@]}"; do
    if [[ -e $UNITS/$unit ]]; then
      system systemctl disable --now "$unit" || true
      rm -f "$UNITS/$unit"
    fi
  done
  system systemctl daemon-reload
  rm -rf "$APP" "$BIN/phone-locker" "$BIN/phone-locker-kiosk-screen" \
         "$ROOT/etc/udev/rules.d/99-phone-locker.rules"
  if ((PURGE)); then
    say "Deleting the data, settings and backups"
    rm -rf "$DATA" "$CONF_DIR" "$BACKUPS"
    system userdel "$SERVICE_USER" || true
  else
    say "Kept: the data in ${DATA:-/var/lib/phone-locker}, the settings in $ENV_FILE," \
        "backups in $BACKUPS (--uninstall --purge-data deletes them)"
  fi
  echo "The touchscreen autostart entries (if any) are left in the desktop user's ~/.config."
}

apt_packages() {
  local packages=(python3-venv python3-pip git curl ca-certificates)
  if ((CADDY)); then packages+=(caddy); fi
  if ((KIOSK)); then packages+=(chromium unclutter); fi
  say "Installing Debian packages: ${packages[*]}"
  system env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${packages[@]}"
}

make_user() {
  if [[ -z $ROOT ]] && ! id "$SERVICE_USER" >/dev/null 2>&1; then
    say "Creating the system user $SERVICE_USER"
  fi
  if [[ -n $ROOT ]] || ! id "$SERVICE_USER" >/dev/null 2>&1; then
    system useradd --system --home-dir /var/lib/phone-locker --no-create-home \
      --shell /usr/sbin/nologin "$SERVICE_USER"
  fi
  # Serial ports (scanner, badge reader, lock board) belong to dialout; gpio for relay boards.
  system usermod -a -G dialout "$SERVICE_USER"
  if [[ -n $ROOT ]] || getent group gpio >/dev/null; then
    system usermod -a -G gpio "$SERVICE_USER"
  fi
}

# The program: this checkout's files (tracked and new, not ignored) copied to APP, replacing
# an older copy; the venv and the instance link are kept. Owned by root: the service reads it.
copy_app() {
  [[ $(realpath "$SOURCE") == $(realpath -m "$APP") ]] && return
  say "Copying the program to $APP"
  mkdir -p "$APP"
  find "$APP" -mindepth 1 -maxdepth 1 ! -name .venv ! -name instance \
       ! -name '*.egg-info' -exec rm -rf {} +
  if git -C "$SOURCE" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$SOURCE" ls-files -z --cached --others --exclude-standard |
      tar -C "$SOURCE" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$APP" -xf -
  else
    tar -C "$SOURCE" --exclude=.venv --exclude=.git --exclude=instance \
        --exclude=test-artifacts -cf - . | tar -C "$APP" -xf -
  fi
  # The app's instance folder (QR code cache, agent queue) is the data folder: /opt is
  # read-only to the service (ProtectSystem=strict).
  ln -sfn "${DATA#"$ROOT"}" "$APP/instance"
  [[ -n $ROOT ]] && ln -sfn "$DATA" "$APP/instance"
  return 0
}

make_venv() {
  if [[ -n $VENV_FROM ]]; then
    say "Using the virtual environment $VENV_FROM"
    ln -sfn "$VENV_FROM" "$APP/.venv"
    return
  fi
  say "Installing the Python packages into $APP/.venv (a few minutes on a Pi)"
  [[ -x $APP/.venv/bin/python ]] || python3 -m venv "$APP/.venv"
  "$APP/.venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  # Editable: templates/ and the migrations are read from APP, where they were copied.
  "$APP/.venv/bin/python" -m pip install -q --disable-pip-version-check -e "${APP}[postgres]"
}

random_secret_key() { python3 -c 'import secrets; print(secrets.token_hex(32))'; }
random_backup_key() {
  python3 -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())'
}

# One setting: its explanation and its line ("#KEY=..." for one left at its default).
setting_block() {
  local key=$1 line=$2 text=$3
  printf '\n%s\n%s\n' "$(fold -s -w 92 <<<"$text" | sed 's/ *$//; s/^/# /')" "$line"
  : "$key"
}

# Every setting, in order: key, the line written, what it means.
settings() {
  local host ip hosts url
  host=$(hostname)
  ip=$(hostname -I 2>/dev/null | awk '{print $1}')
  url=${PUBLIC_URL_OPTION:-https://$host.local}
  hosts="$host.local,$host${ip:+,$ip}"
  local database="sqlite:///${DATA}/kiosk.sqlite3"
  local proxies=1
  ((CADDY)) || proxies=0
  setting_block KIOSK_ENV "KIOSK_ENV=production" \
    "production (a school) or demo. Production refuses to start without SECRET_KEY and PUBLIC_URL or TRUSTED_HOSTS, and sets Secure cookies (HTTPS only)."
  setting_block SECRET_KEY "SECRET_KEY=$(random_secret_key)" \
    "Signs sign-in sessions: 32 random bytes, made for this server by install.sh. Changing it signs everyone out."
  setting_block BACKUP_KEY "BACKUP_KEY=$(random_backup_key)" \
    "Encrypts the backups (a Fernet key, made by install.sh). KEEP A COPY AWAY FROM THE BACKUPS (the school's password manager): without it a backup cannot be restored. A new key first, old keys after a comma, still read old backups."
  setting_block PUBLIC_URL "PUBLIC_URL=$url" \
    "How staff reach this server, as they type it: the start of links in emails, and the host name trusted when TRUSTED_HOSTS is unset."
  setting_block TRUSTED_HOSTS "TRUSTED_HOSTS=$hosts" \
    "Every name or IPv4 address staff use for this server, comma-separated, no http:// or port (localhost and 127.0.0.1 are always answered). Caddy's certificate covers the same names: after a change, also edit /etc/caddy/Caddyfile."
  setting_block TRUSTED_PROXIES "TRUSTED_PROXIES=$proxies" \
    "Reverse proxies in front of the app (Caddy here: 1), whose X-Forwarded-For and -Proto are believed for sign-in throttling and HTTPS. 0 when browsers connect straight to gunicorn."
  setting_block DATABASE_URL "DATABASE_URL=$database" \
    "The register: SQLite on this Pi, or postgresql://user@host/db for a trust's server (the kiosk agent's queue stays here either way)."
  setting_block SCHOOL_NAME "SCHOOL_NAME=\"Demo Community School\"" \
    "Shown on every page and printout: put the school's name here, in double quotes."
  setting_block TIME_ZONE "#TIME_ZONE=Europe/London" \
    "Times are stored in UTC and shown in this zone."
  setting_block KIOSK_IDLE_SECONDS "#KIOSK_IDLE_SECONDS=8" \
    "How long a result stays on the kiosk screen, in seconds."
  setting_block SMTP_HOST "#SMTP_HOST=smtp.school.example" \
    "The mail server that tells SLT of new exception requests; without it no email is sent."
  setting_block SMTP_PORT "#SMTP_PORT=587" \
    "465 is TLS from the start; any other port uses STARTTLS when the server offers it."
  setting_block SMTP_USER "#SMTP_USER=phone-register@school.example" \
    "The mail server's sign-in, if it needs one."
  setting_block SMTP_PASSWORD "#SMTP_PASSWORD=" \
    "Its password, only ever sent over TLS."
  setting_block SMTP_FROM "#SMTP_FROM=phone-register@school.example" \
    "The sender of those emails [default: SMTP_USER if it is an address]."
  setting_block WEB_BIND "#WEB_BIND=127.0.0.1:8000" \
    "Where gunicorn listens: loopback behind Caddy. 0.0.0.0:8000 opens it to the network (only with another HTTPS proxy in front)."
  setting_block KIOSK_SCANNER "KIOSK_SCANNER=/dev/kiosk-scanner" \
    "The kiosk agent (phone-locker-agent, on a Pi with readers): the USB-serial barcode scanner (deploy/udev/99-phone-locker.rules names it). Comment it out for a scanner in keyboard mode."
  setting_block KIOSK_RFID "KIOSK_RFID=/dev/kiosk-rfid" \
    "The badge reader: /dev/kiosk-rfid for a USB one, /dev/serial0 for an RDM6300 on the GPIO UART; comment it out for none."
  setting_block KIOSK_LOCKS "KIOSK_LOCKS=none" \
    "The lock bank: none (keyed lockers), kerong:/dev/kiosk-locks, or gpio:17,27,22,... (one pin per locker)."
  setting_block KIOSK_LOCKERS "KIOSK_LOCKERS=16" \
    "Lockers on the lock bank."
  setting_block KIOSK_SERVER "#KIOSK_SERVER=http://127.0.0.1:8000" \
    "The web app the agent sends scans to: this Pi, or https://SERVER for a trust's server."
  setting_block KIOSK_TOKEN_FILE "#KIOSK_TOKEN_FILE=/var/lib/phone-locker/kiosk.token" \
    "The kiosk's agent token (create-kiosk --token-file or pair-kiosk writes it)."
}

# The settings file: written whole the first time; afterwards only settings it lacks are
# appended (a school's values are never changed).
write_settings() {
  mkdir -p "$CONF_DIR"
  local blocks
  blocks=$(settings)
  if [[ ! -e $ENV_FILE ]]; then
    say "Writing the settings to $ENV_FILE (a new secret key and backup key)"
    {
      echo "# The phone locker register's settings, read by its services (systemd"
      echo "# EnvironmentFile) and by the phone-locker command. Edit, then:"
      echo "#   sudo systemctl restart phone-locker-web phone-locker-agent"
      echo "# install.sh never changes a value here; it adds settings a new version brings."
      echo "$blocks"
    } >"$ENV_FILE.new"
    chmod 0640 "$ENV_FILE.new"
    mv "$ENV_FILE.new" "$ENV_FILE"
  else
    local key added=""
    for key in $(grep -oE '^#?[A-Z_]+=' <<<"$blocks" | tr -d '#=' | sort -u); do
      if ! grep -qE "^#? ?$key=" "$ENV_FILE"; then
        awk -v key="$key" 'BEGIN { RS=""; ORS="\n\n" } $0 ~ ("\n#?" key "=") { print }' \
          <<<"$blocks" >>"$ENV_FILE"
        added+=" $key"
      fi
    done
    if [[ -n $added ]]; then
      say "Added to $ENV_FILE (new in this version):$added"
    else
      say "Kept the settings in $ENV_FILE"
    fi
  fi
  [[ -z $ROOT ]] && chown "root:$SERVICE_USER" "$ENV_FILE"
  chmod 0640 "$ENV_FILE"
}

make_folders() {
  mkdir -p "$DATA" "$BACKUPS"
  chmod 0750 "$DATA" "$BACKUPS"
  if [[ -z $ROOT ]]; then
    chown "$SERVICE_USER:$SERVICE_USER" "$DATA" "$BACKUPS"
  fi
}

first_admin() {
  local password out
  password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
  if out=$(app_flask create-user admin --role admin <<<"$password" 2>&1); then
    # The password given above is thrown away: the admin signs in with this one-time one.
    out=$(app_flask reset-password admin)
    echo "    ${out%%$'\n'*}"
    echo "    (sign in as admin with it at the address below: you will choose your own)"
  elif grep -q "already exists" <<<"$out"; then
    echo "    The admin user exists already: its password is unchanged" \
         "(sudo phone-locker reset-password admin gives a new one-time password)."
  else
    echo "$out" >&2
    fail "could not create the first admin user"
  fi
}

install_units() {
  say "Installing the services"
  mkdir -p "$UNITS"
  local unit
  for unit in "${UNIT_NAMES[@]}"; do
    install_unit "$SOURCE/deploy/systemd/$unit" "$UNITS/$unit"
  done
  mkdir -p "$BIN"
  install_unit "$SOURCE/deploy/phone-locker" "$BIN/phone-locker"
  chmod 0755 "$BIN/phone-locker"
  system systemctl daemon-reload
  local enable=(phone-locker-web.service phone-locker-backup.timer phone-locker-purge.timer)
  if ((KIOSK)); then enable+=(phone-locker-agent.service); fi
  if ((START)); then
    system systemctl enable --now "${enable[@]}"
    system systemctl restart phone-locker-web.service
    if ((KIOSK)); then system systemctl try-restart phone-locker-agent.service; fi
  else
    system systemctl enable "${enable[@]}"
  fi
}

install_udev() {
  mkdir -p "$ROOT/etc/udev/rules.d"
  local rules="$ROOT/etc/udev/rules.d/99-phone-locker.rules"
  # The technician fills in the serial numbers: never overwritten once there.
  if [[ ! -e $rules ]]; then
    install -m 0644 "$SOURCE/deploy/udev/99-phone-locker.rules" "$rules"
    say "Device names: fill in $rules (README: Plugging in devices)"
  fi
  system udevadm control --reload
}

install_caddy() {
  ((CADDY)) || return 0
  mkdir -p "$(dirname "$CADDYFILE")"
  # Debian's Caddyfile (a placeholder page) is replaced once; ours is never overwritten.
  if [[ -e $CADDYFILE ]] && grep -q 'phone-locker' "$CADDYFILE"; then
    say "Kept $CADDYFILE"
  else
    [[ -e $CADDYFILE ]] && cp -n "$CADDYFILE" "$CADDYFILE.before-phone-locker"
    local sites
    sites=$(grep -E '^TRUSTED_HOSTS=' "$ENV_FILE" | cut -d= -f2 | sed 's/,/ /g')
    sed "s#^phones.school.example .*{#${sites:-localhost} {#" \
        "$SOURCE/deploy/caddy/Caddyfile" >"$CADDYFILE"
    say "Wrote $CADDYFILE (HTTPS for: ${sites:-localhost})"
  fi
  system systemctl enable caddy.service
  if ((START)); then system systemctl reload-or-restart caddy.service; fi
  return 0
}

kiosk_desktop_user() {
  [[ -n $KIOSK_USER ]] && { echo "$KIOSK_USER"; return; }
  [[ -n $ROOT ]] && { echo pi; return; }
  getent passwd 1000 | cut -d: -f1
}

# The touchscreen: Chromium in kiosk mode at every desktop sign-in (Bookworm's labwc or
# wayfire, or X11), through the launcher; no screen blanking.
install_touchscreen() {
  ((KIOSK)) || return 0
  local user home
  user=$(kiosk_desktop_user)
  [[ -n $user ]] || fail "no desktop user: give --kiosk-user NAME"
  if [[ -n $ROOT ]]; then home="$ROOT/home/$user"; else home=$(getent passwd "$user" | cut -d: -f6); fi
  say "The touchscreen: Chromium in kiosk mode for $user's desktop"
  install -m 0755 "$SOURCE/deploy/kiosk/phone-locker-kiosk-screen" "$BIN/phone-locker-kiosk-screen"
  if [[ ! -e $CONF_DIR/kiosk-url ]]; then
    echo "http://localhost:8000/kiosk" >"$CONF_DIR/kiosk-url"
    chmod 0644 "$CONF_DIR/kiosk-url"
  fi
  local launcher=/usr/local/bin/phone-locker-kiosk-screen
  mkdir -p "$home/.config/labwc" "$home/.config/autostart"
  # labwc (Bookworm's default desktop since late 2024)
  touch "$home/.config/labwc/autostart"
  grep -qF "$launcher" "$home/.config/labwc/autostart" ||
    echo "$launcher &" >>"$home/.config/labwc/autostart"
  # wayfire (Bookworm until late 2024)
  local wayfire="$home/.config/wayfire.ini"
  touch "$wayfire"
  if ! grep -qF "$launcher" "$wayfire"; then
    if grep -q '^\[autostart\]' "$wayfire"; then
      sed -i "/^\[autostart\]/a phone_locker = $launcher" "$wayfire"
    else
      printf '\n[autostart]\nphone_locker = %s\n' "$launcher" >>"$wayfire"
    fi
  fi
  # X11 (LXDE-pi) and any desktop reading XDG autostart; the launcher runs once per session.
  install -m 0644 "$SOURCE/deploy/kiosk/phone-locker-kiosk.desktop" \
    "$home/.config/autostart/phone-locker-kiosk.desktop"
  [[ -z $ROOT ]] && chown -R "$user:" "$home/.config"
  if [[ -n $ROOT ]] || command -v raspi-config >/dev/null; then
    system raspi-config nonint do_blanking 1
  fi
}

check_clock() {
  command -v timedatectl >/dev/null || return 0
  local synced
  synced=$(timedatectl show -p NTPSynchronized --value 2>/dev/null || true)
  if [[ $synced != yes ]] && ! systemctl is-active --quiet systemd-timesyncd 2>/dev/null; then
    echo "WARNING: the clock is not synchronised (timedatectl: NTPSynchronized=${synced:-unknown})." >&2
    echo "  Scans carry this Pi's time and it has no battery clock. Turn it on:" >&2
    echo "  sudo timedatectl set-ntp true   (and allow NTP, UDP 123, through the school's firewall)" >&2
  fi
}

print_addresses() {
  local url
  url=$(grep -E '^PUBLIC_URL=' "$ENV_FILE" | cut -d= -f2-)
  cat <<EOF

The phone locker register is installed.
  Office, SLT and admin:  ${url}
  This Pi's own browser:  http://localhost:8000
  Settings:               ${ENV_FILE}   (then: sudo systemctl restart phone-locker-web)
  Commands:               sudo phone-locker COMMAND   (e.g. sudo phone-locker status)
  Logs:                   journalctl -u phone-locker-web -u phone-locker-agent
Next: add a kiosk (sudo phone-locker create-kiosk "Staff room kiosk" --bank "Staff room"
  --token-file /var/lib/phone-locker/kiosk.token) and pair its screen (README: Install).
EOF
}

main() {
  if ((UNINSTALL)); then
    uninstall
    return
  fi
  [[ -n $ROOT ]] && mkdir -p "$ROOT" && : >"$ROOT/install-commands.log"
  [[ -z $ROOT ]] && apt_packages
  make_user
  copy_app
  make_venv
  make_folders
  write_settings
  say "Creating or upgrading the database"
  app_flask init-db
  say "The first admin"
  first_admin
  install_udev
  install_units
  install_caddy
  install_touchscreen
  check_clock
  print_addresses
}

main
