#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, to try `--executor slurm` before a real cluster.
#
#   bash scripts/slurm_local.sh start    # install slurm-wlm and munge if missing (Debian/Ubuntu), start it
#   export SLURM_CONF=/var/lib/repro-slurm/slurm.conf    # what `start` prints: where sbatch/sinfo look
#   bash scripts/slurm_local.sh status   # daemons and `sinfo`
#   bash scripts/slurm_local.sh stop     # stop the daemons (the folder stays; start again at will)
#
# One node (this machine, its CPUs and memory, no GPUs) in one partition, `debug`, reached on
# 127.0.0.1 only. Everything lives in one folder, REPRO_SLURM_DIR (default /var/lib/repro-slurm):
# slurm.conf, a munge key and socket, state, logs and pid files; its own munged and ports
# (REPRO_SLURM_PORT, default 6917, and the next one), so a system Slurm or munge is left alone.
# Daemons run as root (sudo when needed): slurmd must start jobs as their user. Idempotent.
set -euo pipefail

DIR=${REPRO_SLURM_DIR:-/var/lib/repro-slurm}
PORT=${REPRO_SLURM_PORT:-6917}
NODE=${REPRO_SLURM_NODE:-$(hostname -s)}
CONF=$DIR/slurm.conf
DAEMONS=(munged slurmctld slurmd)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
say() { echo "slurm_local: $*" >&2; }
running() {  # the daemon named $1 runs under the pid its pid file gives
  local pid
  pid=$(cat "$DIR/$1.pid" 2>/dev/null) && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

install_packages() {
  if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null; then
    return
  fi
  command -v apt-get >/dev/null || { say "no apt-get: install Slurm (slurmctld, slurmd) and munge by hand"; exit 1; }
  say "installing slurm-wlm and munge (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >&2
}

write_config() {
  # this machine as slurmd sees it (CPUs, sockets, cores, memory), under our node name
  local hardware
  hardware=$(slurmd -C | head -1 | sed -e "s/^NodeName=[^ ]*/NodeName=$NODE/")
  as_root mkdir -p "$DIR/state" "$DIR/spool"
  as_root chmod 755 "$DIR"  # munge's socket must be reachable by every user
  as_root tee "$CONF.new" >/dev/null <<EOF
# written by repro scripts/slurm_local.sh: one node, this machine, localhost only
ClusterName=repro-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire: a requeued job waits this many seconds before it starts again (Slurm: 120)
AuthInfo=socket=$DIR/munge.socket,cred_expire=20
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
KillWait=10
$hardware NodeAddr=127.0.0.1 NodeHostname=$(hostname) State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
  if as_root cmp -s "$CONF.new" "$CONF"; then
    as_root rm "$CONF.new"
  else
    as_root mv "$CONF.new" "$CONF"
    say "wrote $CONF"
    stop_daemons quiet  # a new configuration: restart with it
  fi
}

start_daemons() {
  if [ ! -f "$DIR/munge.key" ]; then
    as_root mungekey --create --keyfile="$DIR/munge.key"
  fi
  running munged || as_root munged --socket="$DIR/munge.socket" --key-file="$DIR/munge.key" \
    --pid-file="$DIR/munged.pid" --log-file="$DIR/munged.log" --seed-file="$DIR/munged.seed"
  running slurmctld || as_root slurmctld -f "$CONF"
  running slurmd || as_root slurmd -f "$CONF" -N "$NODE"
  for _ in $(seq 60); do  # the node registers within seconds
    if SLURM_CONF=$CONF sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null | grep -qxE '(idle|mix|alloc)'; then
      return
    fi
    sleep 1
  done
  say "the node did not come up; logs: $DIR/slurmctld.log, $DIR/slurmd.log"
  SLURM_CONF=$CONF sinfo >&2 || true
  exit 1
}

stop_daemons() {
  local daemon pid
  for daemon in slurmd slurmctld munged; do
    if running "$daemon"; then
      pid=$(cat "$DIR/$daemon.pid")
      as_root kill "$pid"
      for _ in $(seq 30); do [ -d "/proc/$pid" ] || break; sleep 0.5; done
      [ "${1:-}" = quiet ] || say "stopped $daemon ($pid)"
    fi
  done
}

case "${1:-}" in
  start)
    install_packages
    write_config
    start_daemons
    say "one node ($NODE) in partition debug is up; sweeps need: export SLURM_CONF=$CONF"
    SLURM_CONF=$CONF sinfo >&2
    echo "export SLURM_CONF=$CONF"
    ;;
  stop)
    stop_daemons
    ;;
  status)
    for daemon in "${DAEMONS[@]}"; do
      if running "$daemon"; then echo "$daemon: running ($(cat "$DIR/$daemon.pid"))"; else echo "$daemon: stopped"; fi
    done
    if running slurmctld; then SLURM_CONF=$CONF sinfo; fi
    ;;
  *)
    echo "usage: bash scripts/slurm_local.sh start|stop|status  (folder: REPRO_SLURM_DIR=$DIR)" >&2
    exit 2
    ;;
esac
