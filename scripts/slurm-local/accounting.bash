# accounting.bash - Slurm's accounting for scripts/slurm-local.sh: a MariaDB
# of the cluster's own and slurmdbd, so that the lab budgets that
# labrun-policy sync writes (associations, GrpTRES, GrpTRESMins) are what
# slurmctld enforces.  Sourced by slurm-local.sh; uses its say, die,
# launch, wait_until, pid_of, check_stray, stop_daemon, install_file and
# CHANGED.
#
# The database is a private instance, never the machine's own MariaDB:
# its files in $DB_DIR, its socket in $DB_RUN, TCP on 127.0.0.1:$DB_PORT
# only (slurmdbd's client library reaches a non-default socket only
# through TCP's host and port), run as the mysql user.  root reaches it
# through the socket (unix_socket authentication); slurmdbd as the user
# slurm with a password of its own, kept in slurmdbd.conf (0600, slurm's).
# The accounts of the cluster survive a stop, as a real site's do: the
# tests remove what they add.

DB_DIR=/var/lib/labrun-slurm/mysql
DB_RUN=/run/labrun-slurm
DB_SOCK=$DB_RUN/mysqld.sock
DB_PID=$DB_RUN/mysqld.pid
DB_PORT=6830
DB_NAME=slurm_acct_db
DB_LOG=$LOGDIR/mariadb.log
DBD_CONF=$ETC/slurmdbd.conf
DBD_PID=/run/slurmdbd.pid
DBD_LOG=$LOGDIR/slurmdbd.log
# The account slurm-local.sh gives root and the test users: with
# AccountingStorageEnforce=associations a user without one cannot submit.
LOCAL_ACCOUNT=local
LOCAL_USERS=${SLURM_LOCAL_USERS:-labrun-test labrun-test2}

# slurm.conf's lines for accounting (write_config).
accounting_conf() {
	cat <<EOF
# Accounting in slurmdbd (slurmdbd.conf), which labrun-policy sync fills
# with the labs' accounts and budgets: jobs of users without an association
# are refused, limits are enforced, and a job starts only when its limits
# let it finish (safe).  GPUs are counted as a TRES of their own.
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
AccountingStorageEnforce=associations,limits,safe
JobAcctGatherType=jobacct_gather/linux
# Usage counts for the month: GrpTRESMins (gpu-hours) is a monthly budget.
# A finished job's usage reaches the budgets within a minute (5 by default).
PriorityType=priority/multifactor
PriorityDecayHalfLife=0
PriorityUsageResetPeriod=MONTHLY
PriorityCalcPeriod=1
EOF
}

# The password slurmdbd uses: the one slurmdbd.conf has, else a new one.
db_password() {
	local p=
	[ ! -e "$DBD_CONF" ] || p=$(sed -n 's/^StoragePass=//p' "$DBD_CONF")
	[ -n "$p" ] || p=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	echo "$p"
}

DBD_CHANGED=0
write_dbd_conf() {
	local changed=$CHANGED pass
	pass=$(db_password)
	CHANGED=0
	install_file "$DBD_CONF" 0600 <<EOF
$MARK
# slurmdbd of the cluster of scripts/slurm-local.sh: regenerated at each
# start (the password is kept).
AuthType=auth/munge
DbdHost=localhost
SlurmUser=slurm
PidFile=$DBD_PID
LogFile=$DBD_LOG
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$pass
StorageLoc=$DB_NAME
EOF
	# slurmdbd refuses a configuration readable by others or not its own.
	chown slurm:slurm "$DBD_CONF"
	DBD_CHANGED=$CHANGED
	CHANGED=$changed
}

db_sql() { mariadb --no-defaults --socket="$DB_SOCK" -u root -N -B -e "$1"; }
db_answers() { mariadb-admin --no-defaults --socket="$DB_SOCK" -u root ping >/dev/null 2>&1; }

start_mariadb() {
	local pass
	if ! pid_of "$DB_PID" mariadbd >/dev/null; then
		check_stray mariadbd "$DB_PID" port_busy "$DB_PORT"
		install -d -m 0755 -o mysql -g mysql "$DB_RUN"
		if [ ! -d "$DB_DIR/mysql" ]; then
			say "creating the accounting database in $DB_DIR"
			install -d -m 0750 -o mysql -g mysql "$DB_DIR"
			mariadb-install-db --no-defaults --datadir="$DB_DIR" --user=mysql \
				--auth-root-authentication-method=socket --skip-test-db \
				>"$LOGDIR/mariadb-install.log" 2>&1 ||
				die "mariadb-install-db failed: $(tail -n 3 "$LOGDIR/mariadb-install.log")"
		fi
		say "starting mariadbd (127.0.0.1:$DB_PORT, $DB_SOCK)"
		# mariadbd stays in the foreground: setsid -f puts it in the
		# background, in a session of its own.
		launch "$LOGDIR/mariadb.start.log" setsid -f /usr/sbin/mariadbd --no-defaults \
			--datadir="$DB_DIR" --socket="$DB_SOCK" --pid-file="$DB_PID" \
			--bind-address=127.0.0.1 --port="$DB_PORT" --user=mysql \
			--log-error="$DB_LOG" --skip-name-resolve ||
			die "mariadbd failed to start: $(cat "$LOGDIR/mariadb.start.log")"
		wait_until 60 db_answers ||
			die "mariadbd does not answer on $DB_SOCK; $DB_LOG: $(tail -n 5 "$DB_LOG" 2>/dev/null)"
	fi
	pass=$(sed -n 's/^StoragePass=//p' "$DBD_CONF")
	db_sql "CREATE DATABASE IF NOT EXISTS $DB_NAME;
		CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
		ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pass';
		GRANT ALL ON $DB_NAME.* TO 'slurm'@'127.0.0.1';" ||
		die "cannot set up the database $DB_NAME for slurmdbd"
}

dbd_answers() { sacctmgr -n -P list cluster format=cluster >/dev/null 2>&1; }

start_slurmdbd() {
	[ "$DBD_CHANGED" = 0 ] || stop_daemon slurmdbd "$DBD_PID"
	if ! pid_of "$DBD_PID" slurmdbd >/dev/null; then
		check_stray slurmdbd "$DBD_PID" port_busy 6819
		say "starting slurmdbd"
		launch "$LOGDIR/slurmdbd.start.log" /usr/sbin/slurmdbd ||
			die "slurmdbd failed to start: $(cat "$LOGDIR/slurmdbd.start.log")"
	fi
	# Its first start creates the tables: slower than later ones.
	wait_until "$TIMEOUT" dbd_answers ||
		die "slurmdbd does not answer (sacctmgr list cluster); $DBD_LOG:" \
			"$(tail -n 5 "$DBD_LOG" 2>/dev/null)"
}

# The cluster, the local account and its users, added once: slurmctld
# loads them when it starts (it must find its cluster registered).  One
# query says what is there already (a start of a running cluster asks
# only that).
accounting_setup() {
	local u have
	have=$(sacctmgr -n -P show assoc format=cluster,account,user 2>/dev/null) ||
		die "sacctmgr cannot read the associations of slurmdbd"
	grep -q "^$CLUSTER|" <<<"$have" ||
		sacctmgr -i add cluster "$CLUSTER" >/dev/null || die "sacctmgr add cluster $CLUSTER failed"
	grep -q "^$CLUSTER|$LOCAL_ACCOUNT|$" <<<"$have" ||
		sacctmgr -i add account "$LOCAL_ACCOUNT" cluster="$CLUSTER" \
			Description="scripts/slurm-local.sh" Organization=slurm-local >/dev/null ||
		die "sacctmgr add account $LOCAL_ACCOUNT failed"
	for u in root $LOCAL_USERS; do
		id "$u" >/dev/null 2>&1 || continue
		grep -qx "$CLUSTER|$LOCAL_ACCOUNT|$u" <<<"$have" ||
			sacctmgr -i add user "$u" account="$LOCAL_ACCOUNT" cluster="$CLUSTER" \
				DefaultAccount="$LOCAL_ACCOUNT" >/dev/null ||
			die "sacctmgr add user $u failed"
	done
}

start_accounting() {
	write_dbd_conf
	start_mariadb
	start_slurmdbd
	accounting_setup
}

stop_accounting() {
	stop_daemon slurmdbd "$DBD_PID"
	stop_daemon mariadbd "$DB_PID"
}
