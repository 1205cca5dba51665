#!/bin/sh
# Stands in for OpenWrt's /etc/rc.common + /lib/functions/procd.sh so an init script can be run
# here: `sh tests/procd_stub.sh /etc/init.d/parrot start|stop|reload|enable`.
# Like rc.common it sources the script and runs the action; like procd.sh it takes
# procd_open_instance / procd_set_param / procd_close_instance, but strictly: a parameter outside
# an instance, a name procd does not know, a malformed respawn/env/command is an error (procd.sh
# itself would drop it silently and the service would run without it). Everything the script
# asks for is written to $PROCD_LOG, one line per call, fields separated by tabs.
set -u
initscript="$1"
action="$2"
: "${PROCD_LOG:?set PROCD_LOG}"

log() { (IFS="$(printf '\t')"; printf '%s\n' "$*") >>"$PROCD_LOG"; }
fail() {
	log error "$*"
	echo "procd_stub: $*" >&2
	exit 1
}

# Commands an init script runs on the router, recorded instead of run.
modprobe() { log cmd modprobe "$@"; }
mkdir() { log cmd mkdir "$@"; }
service_triggers() { :; }

in_instance=0
has_command=0
procd_open_instance() {
	[ "$in_instance" = 0 ] || fail "procd_open_instance inside an instance"
	in_instance=1
	has_command=0
	log open_instance "$@"
}
procd_close_instance() {
	[ "$in_instance" = 1 ] || fail "procd_close_instance without an instance"
	[ "$has_command" = 1 ] || fail "instance closed without a command"
	in_instance=0
	log close_instance
}
is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; esac; }
procd_set_param() {
	[ "$in_instance" = 1 ] || fail "procd_set_param $1 outside an instance"
	type="$1"
	shift
	case "$type" in
	command)
		case "${1:-}" in /*) has_command=1 ;; *) fail "command must start with an absolute path: ${1:-}" ;; esac ;;
	respawn)
		[ $# = 3 ] && is_uint "$1" && is_uint "$2" && is_uint "$3" || fail "respawn takes threshold timeout retry: $*" ;;
	env)
		for kv in "$@"; do case "$kv" in [A-Za-z_]*=*) ;; *) fail "env entry is not KEY=VALUE: $kv" ;; esac; done ;;
	stdout | stderr | no_new_privs)
		case "${1:-}" in 0 | 1) ;; *) fail "$type takes 0 or 1" ;; esac ;;
	nice | term_timeout)
		is_uint "${1#-}" || fail "$type takes a number" ;;
	file | netdev | data | limits | watch | pidfile | user | group | reload_signal | seccomp | capabilities) ;;
	*) fail "unknown procd parameter: $type" ;;
	esac
	log param "$type" "$@"
}
procd_append_param() { procd_set_param "$@"; }

[ -r "$initscript" ] || fail "no init script $initscript"
. "$initscript"
[ "${USE_PROCD:-0}" = 1 ] || fail "USE_PROCD=1 missing"
is_uint "${START:-}" && [ "$START" -le 99 ] || fail "START must be 0-99"
is_uint "${STOP:-}" && [ "$STOP" -le 99 ] || fail "STOP must be 0-99"

start() { log action start; start_service; [ "$in_instance" = 0 ] || fail "start_service left an instance open"; }
stop() { log action stop; if command -v stop_service >/dev/null; then stop_service; fi; }
case "$action" in
start | stop) "$action" ;;
restart) stop && start ;;
reload) if command -v reload_service >/dev/null; then reload_service; else stop && start; fi ;;
enable) log enable "S${START}$(basename "$initscript")" "K${STOP}$(basename "$initscript")" ;;
*) fail "unknown action $action" ;;
esac
