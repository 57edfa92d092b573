#!/bin/sh
# flotilla-healthcheck: the container health check of a Flotilla node.
#
# It asks the node's /health (cluster/metrics.go: 200 "ok" when the node is
# in a formed cluster whose every slot has a leader it knows, 503 and the
# reason otherwise) and exits 0 for 200, 1 for anything else. The endpoint
# listens on the node's announce IP, not on 127.0.0.1, so the address and
# port come from the node's own flags, as the node picks them:
# --cluster-announce-ip, else the first --bind address that is not a
# wildcard, else 127.0.0.1; --metrics-port, else 9121.
#
# The node is the process named flotilla (PID 1 in the image), or
# FLOTILLA_PID. FLOTILLA_HEALTH_URL overrides the address altogether (for
# a node configured by a file, whose directives this script does not read).
# Only POSIX sh, tr and wget: busybox has them.
set -u

url=${FLOTILLA_HEALTH_URL:-}
if [ -z "$url" ]; then
	pid=${FLOTILLA_PID:-}
	if [ -z "$pid" ]; then
		for d in /proc/[0-9]*; do
			if [ "$(cat "$d/comm" 2>/dev/null)" = flotilla ]; then
				pid=${d#/proc/}
				break
			fi
		done
	fi
	if [ -z "$pid" ] || [ ! -r "/proc/$pid/cmdline" ]; then
		echo "flotilla-healthcheck: no flotilla process" >&2
		exit 1
	fi
	# The arguments, one per line; later flags win, as in the node.
	url=$(tr '\0' '\n' <"/proc/$pid/cmdline" | {
		announce='' binds='' port=9121 cur=''
		while IFS= read -r a; do
			case $a in
			--*) cur=${a#--}
				[ "$cur" = bind ] && binds=''
				continue ;;
			esac
			case $cur in
			cluster-announce-ip) announce=$a ;;
			bind) binds="$binds $a" ;;
			metrics-port) port=$a ;;
			esac
		done
		ip=$announce
		if [ -z "$ip" ]; then
			for b in $binds; do
				b=${b#-}
				case $b in
				'*' | '::*' | 0.0.0.0 | '::') ;;
				*) ip=$b; break ;;
				esac
			done
		fi
		[ -n "$ip" ] || ip=127.0.0.1
		case $ip in *:*) ip="[$ip]" ;; esac
		if [ "$port" = 0 ]; then
			echo none
		else
			echo "http://$ip:$port/health"
		fi
	})
	if [ "$url" = none ]; then
		echo "flotilla-healthcheck: metrics-port 0, no /health to ask"
		exit 0
	fi
fi
if ! wget -q -T 2 -O - "$url"; then
	echo "flotilla-healthcheck: $url did not answer 200" >&2
	exit 1
fi
