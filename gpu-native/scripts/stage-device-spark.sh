#!/usr/bin/env bash
# Stages, under .device/spark1..4 (git-ignored), what device-spark-run.sh needs on a GPU machine without
# Java: a jlink'ed runtime with the modules Spark uses (xz) and Spark's classpath pruned to what `attend`
# loads (no rocksdb, MLlib, ORC/Parquet/Avro, non-Linux natives: about 170 MB), in four parts of at
# most 56 MB, to be carried in four consecutive device calls (the machine keeps them while warm).
# Run after `mvn -B -ntp -q -DskipTests package`.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
rm -rf .device/spark1 .device/spark2 .device/spark3 .device/spark4 /tmp/sparkjre
mkdir -p .device/spark1 .device/spark2 .device/spark3 .device/spark4
jlink --add-modules java.base,java.sql,java.management,jdk.management,java.naming,java.security.jgss,jdk.security.auth,java.xml,jdk.unsupported,java.logging,java.desktop,java.scripting,jdk.crypto.ec,java.net.http,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output /tmp/sparkjre
tar -C /tmp -cJf .device/spark1/jre.tar.xz sparkjre
cp spark-jobs/target/spark-jobs-*-shaded.jar .device/spark4/
tr ':' '\n' < spark-jobs/target/spark-classpath.txt | grep -vE 'rocksdbjni|spark-mllib|breeze|spire|cats-kernel|algebra_|osx-|windows-|aarch_64|linux-riscv|orc-|parquet-|avro|arpack|blas|lapack|pmml|py4j|derby|datasketches|zookeeper|curator|jline|shims|netty-codec-native-quic|netty-tcnative|hive-storage|scala-compiler|commons-math3|json4s-scalap|istack|jaxb|minlog|hk2|jetty|javassist|aopalliance|osgi|zstd-jni|snappy-java|tink' \
  > /tmp/longnet-pruned-cp.txt
python3 - <<'PY'
import os, shutil
jars = sorted((l.strip() for l in open('/tmp/longnet-pruned-cp.txt') if l.strip()), key=lambda j: -os.path.getsize(j))
room = {p: 56e6 - sum(os.path.getsize(os.path.join('.device', p, f)) for f in os.listdir(os.path.join('.device', p)))
        for p in ('spark1', 'spark2', 'spark3', 'spark4')}
for j in jars:
    part = next((p for p in ('spark2', 'spark3', 'spark1', 'spark4') if room[p] >= os.path.getsize(j)), None)
    if part is None:
        raise SystemExit('no room for ' + j)
    room[part] -= os.path.getsize(j)
    shutil.copy(j, os.path.join('.device', part))
PY
# Spark's classpath order matters (a jar's META-INF/INDEX.LIST can shadow others): keep it.
xargs -n1 basename < /tmp/longnet-pruned-cp.txt > .device/spark4/classpath-order.txt
du -sh .device/spark*
