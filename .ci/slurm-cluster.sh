#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for tests/test_slurm_workflow.py (docs/clusters.md).
# Debian's slurmctld, slurmd, slurmdbd on MariaDB and munge, started without systemd. The node
# declares 16 CPUs, 256 GB and 4 GPUs (stand-in devices /dev/tty[0-3]; no real GPU), partitions
# `cpu` (default) and `gpu`; accounting records each job's partition, time limit, memory and
# gres/gpu for sacct. This script is the cluster's only source: it writes every configuration file.
#
#   sudo .ci/slurm-cluster.sh               install the packages when missing, start what is down
#   sudo .ci/slurm-cluster.sh --no-install  the same, but exit 3 when packages are missing
#   sudo .ci/slurm-cluster.sh --stop        stop the daemons it started
#
# A second call with the cluster up and its configuration unchanged returns within a second.
set -euo pipefail

PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
CLUSTER=galaxycnn
ACCOUNT=galaxycnn
NODE=$(hostname -s)
LOGS=/var/log/slurm
DB_SOCKET=/run/mysqld/mysqld.sock

# Daemons started here must not inherit the caller's open files (a lock held by `flock` would
# stay held for as long as they run).
for fd in /proc/$$/fd/*; do
  fd=${fd##*/}
  if ((fd > 2)) && [[ $fd != 255 ]]; then eval "exec $fd>&-"; fi
done

die() { echo "slurm-cluster: $*" >&2; exit "${EXIT:-1}"; }
say() { echo "slurm-cluster: $*" >&2; }

install=1
case "${1:-}" in
  "") ;;
  --no-install) install=0 ;;
  --stop) ;;
  *) die "unknown argument '$1' (expected --no-install or --stop)" ;;
esac
[[ $(id -u) == 0 ]] || EXIT=2 die "must run as root (it installs packages and starts daemons)"

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_daemons() {
  local pidfile
  for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/slurmdbd.pid /run/mysqld/mysqld.pid \
                 /run/munge/munged.pid; do
    if alive "$pidfile"; then
      kill "$(cat "$pidfile")"
      for _ in $(seq 50); do alive "$pidfile" || break; sleep 0.2; done
    fi
    rm -f "$pidfile"
  done
}

if [[ ${1:-} == --stop ]]; then stop_daemons; exit 0; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  ((install)) || EXIT=3 die "Debian packages missing: ${missing[*]} (run .ci/slurm-cluster.sh as root)"
  say "installing ${missing[*]}"
  # No service may start from a package's postinst: this script starts the daemons itself.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" \
    > /tmp/slurm-cluster-apt.log 2>&1 || { tail -20 /tmp/slurm-cluster-apt.log >&2; die "apt-get install failed"; }
fi

# Configuration: rewritten only when it changes; a change restarts the daemons.
changed=0
put() {  # put PATH OWNER MODE < content
  local tmp
  tmp=$(mktemp)
  cat > "$tmp"
  if ! cmp -s "$tmp" "$1"; then
    install -D -o "$2" -g "$2" -m "$3" "$tmp" "$1"
    changed=1
  fi
  rm -f "$tmp"
}

put /etc/slurm/slurm.conf root 644 <<EOF
# Written by .ci/slurm-cluster.sh: a one-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
# No cgroups needed: processes tracked by parentage, no CPU binding (the node declares more CPUs
# than the machine has).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
GresTypes=gpu
ReturnToService=2
MpiDefault=none
KillWait=5
InactiveLimit=0
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStoreFlags=job_comment
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=16 RealMemory=256000 Gres=gpu:4 State=UNKNOWN
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=gpu Nodes=$NODE MaxTime=INFINITE State=UP
EOF

put /etc/slurm/gres.conf root 644 <<EOF
# Written by .ci/slurm-cluster.sh: four stand-in GPU devices (no real GPU behind them).
Name=gpu File=/dev/tty[0-3]
EOF

put /etc/slurm/slurmdbd.conf slurm 600 <<EOF
# Written by .ci/slurm-cluster.sh.
DbdHost=localhost
SlurmUser=slurm
AuthType=auth/munge
PidFile=/run/slurmdbd.pid
LogFile=$LOGS/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurm
StorageLoc=slurm_acct_db
EOF

if [[ ! -s /etc/munge/munge.key ]]; then
  install -d -o munge -g munge -m 700 /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key
  chmod 400 /etc/munge/munge.key
  changed=1
fi

ready() {
  sinfo -h -N -n "$NODE" -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)' &&
    sacctmgr -n -P list cluster format=cluster 2>/dev/null | grep -qx "$CLUSTER"
}

if ((changed == 0)) && alive /run/munge/munged.pid && alive /run/mysqld/mysqld.pid &&
   alive /run/slurmdbd.pid && alive /run/slurmctld.pid && alive /run/slurmd.pid && ready; then
  say "up (cluster $CLUSTER, node $NODE)"
  exit 0
fi
((changed == 0)) || stop_daemons

wait_for() {  # wait_for SECONDS WHAT LOG COMMAND...
  local seconds=$1 what=$2 log=$3
  shift 3
  for _ in $(seq $((seconds * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  [[ -f $log ]] && tail -20 "$log" >&2
  die "$what did not become ready in ${seconds}s (log: $log)"
}

install -d -o slurm -g slurm /var/lib/slurm/slurmctld "$LOGS"
install -d /var/lib/slurm/slurmd
install -d -o munge -g munge -m 755 /run/munge
install -d -o mysql -g mysql /run/mysqld /var/log/mysql

if ! alive /run/munge/munged.pid; then
  runuser -u munge -- /usr/sbin/munged --force --pid-file=/run/munge/munged.pid
  wait_for 10 munged /var/log/munge/munged.log bash -c 'munge -n | unmunge'
fi

if ! alive /run/mysqld/mysqld.pid; then
  [[ -d /var/lib/mysql/mysql ]] || mariadb-install-db --user=mysql >/dev/null
  setsid /usr/sbin/mariadbd --user=mysql --socket=$DB_SOCKET --pid-file=/run/mysqld/mysqld.pid \
    --log-error=/var/log/mysql/error.log < /dev/null > /dev/null 2>&1 &
  wait_for 60 MariaDB /var/log/mysql/error.log mariadb-admin --socket=$DB_SOCKET ping
fi
mariadb --socket=$DB_SOCKET <<EOF
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurm';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF

if ! alive /run/slurmdbd.pid; then
  slurmdbd
  wait_for 60 slurmdbd $LOGS/slurmdbd.log sacctmgr -n list cluster
fi
sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" ||
  sacctmgr -i -Q add cluster "$CLUSTER" >/dev/null
sacctmgr -n -P list account format=account | grep -qx "$ACCOUNT" ||
  sacctmgr -i -Q add account "$ACCOUNT" Cluster="$CLUSTER" Description="test jobs" >/dev/null
for user in root ${SUDO_USER:-}; do
  sacctmgr -n -P list association user="$user" account="$ACCOUNT" format=user | grep -q . ||
    sacctmgr -i -Q add user "$user" Account="$ACCOUNT" DefaultAccount="$ACCOUNT" >/dev/null
done

if ! alive /run/slurmctld.pid; then
  slurmctld
  wait_for 30 slurmctld $LOGS/slurmctld.log scontrol ping
fi
if ! alive /run/slurmd.pid; then
  slurmd
fi
for _ in $(seq 150); do
  state=$(sinfo -h -N -n "$NODE" -o %T 2>/dev/null || true)
  [[ $state =~ ^(down|drain) ]] && scontrol update NodeName="$NODE" State=RESUME >/dev/null 2>&1 || true
  ready && break
  sleep 0.2
done
ready || { tail -20 $LOGS/slurmd.log $LOGS/slurmctld.log >&2; die "node $NODE is not idle: '${state:-no answer}'"; }
say "up (cluster $CLUSTER, node $NODE, $(sinfo -h -o '%P %D %c %m %G' | tr '\n' ';'))"
