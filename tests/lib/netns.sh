# tests/lib/netns.sh — network namespaces standing for hosts on one LAN, for
# the multi-host tests (sourced after suite.sh, or after a library that
# sources it).
# shellcheck shell=bash
#
#   netns_usable             can this machine make them? Prints why not and
#                            returns 1 (not root, no iproute2, no
#                            CAP_NET_ADMIN or CAP_SYS_ADMIN, no veth or
#                            bridge in the kernel): a probe namespace with a
#                            bridge and a veth pair is made and removed
#   netns_init               (after suite_init) the LAN: a namespace holding
#                            a bridge, the "switch"; every namespace made
#                            here is removed at exit (suite_at_exit), and
#                            those a killed script left are removed now
#   netns_host NAME ADDR     a host: namespace NETNS_NS[NAME] with loopback
#                            up and eth0 = ADDR/24, its cable plugged into
#                            switch port p-NAME
#   netns_link NAME up|down  plug or pull that cable (the switch's end of
#                            the veth: neither side hears of it, as with a
#                            cut cable, until its heartbeats go unanswered)
#   netns_exec NAME CMD...   CMD in host NAME's network namespace
#   netns_start KEY NAME CMD...   CMD as suite process KEY (suite_stop KEY,
#                            log in $SUITE_TMP/log/KEY.log) in host NAME;
#                            the environment of one process: env VAR=x CMD
#
# Names: every namespace is "sbmh<pid>-<name>" so that parallel scripts do not
# meet; inside a host the interfaces are lo and eth0, on the switch br0 and
# p-<name>. Nothing is made in the caller's own namespace (no interface, no
# route), so removing the namespaces removes everything: each veth dies with
# the namespace at either end, a namespace with its last process (suite.sh
# has stopped them all by then).

# Variables set here are read by the test scripts.
# shellcheck disable=SC2034

[[ -n ${_NETNS_SH:-} ]] && return 0
_NETNS_SH=1

NETNS_PREFIX=sbmh$$
NETNS_SWITCH=
declare -gA NETNS_NS=()
_NETNS_MADE=()

# Run ip quietly; on failure its message goes to stdout (for the skip reason).
_netns_ip () {
    local out
    out=$(ip "$@" 2>&1) || { printf 'ip %s: %s\n' "$*" "${out:-failed}"; return 1; }
}

netns_usable () {
    local probe=${NETNS_PREFIX}-probe why=''
    if (( EUID != 0 )); then
        echo "network namespaces need root (running as uid $EUID)"; return 1
    fi
    if ! command -v ip >/dev/null; then
        echo "iproute2 (ip) is missing (deploy/local/deps.sh test installs it)"; return 1
    fi
    if why=$(_netns_ip netns add "$probe"); then
        why=$(_netns_ip -n "$probe" link add br0 type bridge \
              && _netns_ip -n "$probe" link add pa type veth peer name pb \
              && _netns_ip -n "$probe" link set lo up \
              && _netns_ip netns exec "$probe" true)
        ip netns del "$probe" 2>/dev/null
    fi
    if [[ -n $why ]]; then
        echo "cannot make network namespaces with veth pairs and a bridge here: ${why//$'\n'/; }"
        return 1
    fi
    return 0
}

netns_init () {
    local ns pid
    # Namespaces left by a script that was killed (SIGKILL: no trap ran).
    for ns in $(ip netns list 2>/dev/null | awk '{ print $1 }'); do
        [[ $ns =~ ^sbmh([0-9]+)- ]] || continue
        pid=${BASH_REMATCH[1]}
        kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null
    done
    suite_at_exit _netns_remove
    NETNS_SWITCH=${NETNS_PREFIX}-switch
    _netns_add "$NETNS_SWITCH" || return 1
    ip -n "$NETNS_SWITCH" link add br0 type bridge || return 1
    ip -n "$NETNS_SWITCH" link set br0 up
}

# At exit, once suite.sh stopped the processes (not before: the switch's
# namespace holds no process and would go at once, its veths with it, and
# the hosts' sockets would hang on a LAN that is gone).
_netns_remove () {
    local ns
    for ns in "${_NETNS_MADE[@]}"; do ip netns del "$ns" 2>/dev/null; done
    _NETNS_MADE=()
}

_netns_add () {
    ip netns add "$1" || return 1
    _NETNS_MADE+=("$1")
    ip -n "$1" link set lo up
}

netns_host () {
    local name=$1 addr=$2 ns=${NETNS_PREFIX}-$1
    [[ -n $NETNS_SWITCH ]] || { t_diag "netns_host: call netns_init first"; return 1; }
    _netns_add "$ns" || return 1
    NETNS_NS[$name]=$ns
    ip -n "$NETNS_SWITCH" link add "p-$name" type veth peer name eth0 netns "$ns" || return 1
    ip -n "$NETNS_SWITCH" link set "p-$name" master br0 up || return 1
    ip -n "$ns" addr add "$addr/24" dev eth0 || return 1
    ip -n "$ns" link set eth0 up
}

netns_link () {
    ip -n "$NETNS_SWITCH" link set "p-$1" "$2"
}

netns_exec () {
    local ns=${NETNS_NS[$1]:-}
    [[ -n $ns ]] || { t_diag "netns_exec: no host '$1'"; return 1; }
    shift
    ip netns exec "$ns" "$@"
}

# `ip netns exec` execs CMD in place, so the pid suite.sh records is CMD's.
netns_start () {
    local key=$1 ns=${NETNS_NS[$2]:-}
    [[ -n $ns ]] || { t_diag "netns_start: no host '$2'"; return 1; }
    shift 2
    _suite_start "$key" "$(command -v ip)" netns exec "$ns" "$@"
}
