#!/usr/bin/env bash
# Submit any job of the project with the Kafka source and the Cassandra connector.
#
#   ./spark-submit.sh [--master URL] [--deploy-mode client|cluster] <job.py> [job args...]
#
#   ./spark-submit.sh streaming/deals_job.py                         # local[*] (default)
#   ./spark-submit.sh --master spark://host:7077 batch/deals_job.py
#   ./spark-submit.sh --master yarn --deploy-mode cluster batch/deals_job.py
#   SPARK_MASTER=yarn ./spark-submit.sh streaming/archive_job.py
#
# Packages come from conf/versions.env (the Kafka source at pyspark's own version) and resolve
# through Ivy from EXS_MAVEN_REPOSITORY_URL (Maven Central or a mirror) into .runtime/ivy, the same
# way for every Spark entry point (conf/spark_packages.py); ~/.m2 is never consulted.
# The project's packages ship as one zip with --py-files. Settings travel as EXS_* environment
# variables (see conf/settings.py); the Cassandra hosts/port are passed to the connector here. In YARN's
# cluster deploy mode the driver runs in the application master: the EXS_* variables go to it with
# spark.yarn.appMasterEnv. YARN needs HADOOP_CONF_DIR (`eval "$(exstreamly stack env --profile cluster)"`).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=conf/versions.env
source "$ROOT/conf/versions.env"

MASTER="${SPARK_MASTER:-${EXS_SPARK_MASTER:-local[*]}}"
DEPLOY_MODE=client
while [[ "${1:-}" == "--master" || "${1:-}" == "--deploy-mode" ]]; do
  if [[ "$1" == "--master" ]]; then MASTER="$2"; else DEPLOY_MODE="$2"; fi
  shift 2
done
if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
  sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
JOB="$1"; shift
[[ -f "$JOB" || -f "$ROOT/$JOB" ]] || { echo "error: no such job file: $JOB" >&2; exit 2; }
[[ -f "$JOB" ]] || JOB="$ROOT/$JOB"

RUNTIME="${EXS_RUNTIME_DIR:-$ROOT/.runtime}"
export JAVA_HOME="${EXS_JAVA_HOME:-$JAVA_HOME_17}"
export PYSPARK_PYTHON="${PYSPARK_PYTHON:-$ROOT/.venv/bin/python}"
export SPARK_LOCAL_IP="${SPARK_LOCAL_IP:-127.0.0.1}"
SUBMIT="${SPARK_HOME:+$SPARK_HOME/bin/spark-submit}"
SUBMIT="${SUBMIT:-$ROOT/.venv/bin/spark-submit}"

# The project code for the driver and executors, named by its content: concurrent submits of the
# same code share one file, and a running job never sees its zip rewritten under it.
mkdir -p "$RUNTIME/dist"
STAGE="$(mktemp "$RUNTIME/dist/.build-XXXXXX.zip")"
rm -f "$STAGE"
(cd "$ROOT" && "$PYSPARK_PYTHON" -m zipfile -c "$STAGE" conf pipeline streaming batch >/dev/null)
ZIP="$RUNTIME/dist/exstreamly-$(md5sum "$STAGE" | cut -c1-12).zip"
if [[ -f "$ZIP" ]]; then rm -f "$STAGE"; else mv "$STAGE" "$ZIP"; fi
# Settings resolve paths from the project root, which the zip cannot tell: pass the runtime dir.
export EXS_RUNTIME_DIR="$RUNTIME"

# The connectors resolve through the one code path every Spark entry point shares
# (conf/spark_packages.py): --packages from conf/versions.env, Ivy cache and settings under the runtime dir.
PACKAGE_ARGS_TEXT="$(cd "$ROOT" && "$PYSPARK_PYTHON" -m conf.spark_packages)"
mapfile -t PACKAGE_ARGS <<<"$PACKAGE_ARGS_TEXT"
SUBMIT_CONF=()
if [[ "$DEPLOY_MODE" == "cluster" ]]; then
  while IFS='=' read -r name _; do
    SUBMIT_CONF+=(--conf "spark.yarn.appMasterEnv.$name=${!name}")
  # The jobs read no credential; none goes into the application's configuration (and its UI).
  done < <(env | grep -E '^EXS_[A-Z0-9_]+=' | grep -vE '^EXS_([A-Z0-9]+_)*(SECRET|KEY|TOKEN|PASSWORD)[_=]' || true)
  SUBMIT_CONF+=(--conf "spark.yarn.appMasterEnv.PYSPARK_PYTHON=$PYSPARK_PYTHON")
fi
# On YARN, Spark's jars come from this archive on HDFS instead of being uploaded by every submit.
if [[ -n "${EXS_SPARK_YARN_ARCHIVE:-}" ]]; then SUBMIT_CONF+=(--conf "spark.yarn.archive=$EXS_SPARK_YARN_ARCHIVE"); fi
exec "$SUBMIT" \
  --master "$MASTER" \
  --deploy-mode "$DEPLOY_MODE" \
  "${SUBMIT_CONF[@]}" \
  --properties-file "$ROOT/conf/spark-defaults.conf" \
  "${PACKAGE_ARGS[@]}" \
  --conf "spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:$ROOT/conf/spark-log4j2.properties" \
  --conf "spark.cassandra.connection.host=${EXS_CASSANDRA_HOST:-127.0.0.1}" \
  --conf "spark.cassandra.connection.port=${EXS_CASSANDRA_PORT:-9042}" \
  --conf "spark.cassandra.output.consistency.level=${EXS_CASSANDRA_WRITE_CONSISTENCY:-LOCAL_ONE}" \
  --py-files "$ZIP" \
  "$JOB" "$@"
