#!/usr/bin/env bash
# Stages what the GPU machine needs to run the GPU tests and benchmark (it has CUDA but no Java): a
# jlink'ed Java 17 runtime and the jars, under .device/ at the repository root (git-ignored). Run after
# `mvn -B -ntp -q -DskipTests install`; then carry .device with the device tool and run
# gpu-native/scripts/device-run.sh there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kit="$root/.device"
m2="${MAVEN_REPO:-$HOME/.m2/repository}"
rm -rf "$kit" && mkdir -p "$kit/lib"
jlink --add-modules java.base,java.logging,java.management,jdk.unsupported,java.xml,java.naming,jdk.crypto.ec,jdk.zipfs \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$kit/jre"
v=0.1.0-SNAPSHOT
cp "$root/attention-udf/target/attention-udf-$v.jar" "$root/attention-udf/target/attention-udf-$v-tests.jar" \
   "$root/gpu-native/target/gpu-native-$v.jar" "$root/gpu-native/target/gpu-native-$v-tests.jar" "$kit/lib/"
cp "$m2/org/jcuda/jcuda/12.6.0/jcuda-12.6.0.jar" \
   "$m2/org/jcuda/jcuda-natives/12.6.0/jcuda-natives-12.6.0-linux-x86_64.jar" \
   "$m2/org/slf4j/slf4j-api/2.0.17/slf4j-api-2.0.17.jar" "$m2/info/picocli/picocli/4.7.7/picocli-4.7.7.jar" "$kit/lib/"
mkdir -p "$kit/junit"
cp "$m2/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar" "$kit/junit/"
du -sh "$kit"
