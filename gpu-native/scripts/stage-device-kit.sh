#!/usr/bin/env bash
# Stages what the GPU machine needs to run the GPU tests and benchmarks (it has CUDA but no Java): a
# jlink'ed Java 17 runtime, the jars (JCuda, JavaCPP's CUDA presets, Jackson for the model's JSON), these
# scripts and the CUDA sources (KernelArtifactTest checks the fatbins against them), in KIT (default
# .device at the repository root, git-ignored). Run after `mvn -B -ntp -q -DskipTests package`; carry the
# kit with the device tool and run, from the kit's folder, `LONGNET_KIT=. bash scripts/device-run.sh`.
#   gpu-native/scripts/stage-device-kit.sh [KIT]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
kit="$(mkdir -p "${1:-$root/.device}" && cd "${1:-$root/.device}" && pwd)"
m2="${MAVEN_REPO:-$HOME/.m2/repository}"
rm -rf "$kit"/jre "$kit"/lib "$kit"/junit "$kit"/scripts "$kit"/gpu-native && mkdir -p "$kit/lib"
jlink --add-modules java.base,java.logging,java.management,jdk.unsupported,java.xml,java.naming,jdk.crypto.ec,jdk.zipfs,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress=2 --output "$kit/jre"
v=0.1.0-SNAPSHOT
cp "$root/attention-udf/target/attention-udf-$v.jar" "$root/attention-udf/target/attention-udf-$v-tests.jar" \
   "$root/gpu-native/target/gpu-native-$v.jar" "$root/gpu-native/target/gpu-native-$v-tests.jar" "$kit/lib/"
cp "$m2/org/jcuda/jcuda/12.6.0/jcuda-12.6.0.jar" \
   "$m2/org/jcuda/jcuda-natives/12.6.0/jcuda-natives-12.6.0-linux-x86_64.jar" \
   "$m2/org/bytedeco/javacpp/1.5.13/javacpp-1.5.13.jar" \
   "$m2/org/bytedeco/cuda/13.1-9.19-1.5.13/cuda-13.1-9.19-1.5.13.jar" \
   "$m2/org/bytedeco/cuda/13.1-9.19-1.5.13/cuda-13.1-9.19-1.5.13-linux-x86_64.jar" \
   "$m2/org/slf4j/slf4j-api/2.0.17/slf4j-api-2.0.17.jar" "$m2/info/picocli/picocli/4.7.7/picocli-4.7.7.jar" \
   "$m2/dev/ludovic/netlib/blas/3.0.4/blas-3.0.4.jar" \
   "$m2/com/fasterxml/jackson/core/jackson-databind/2.20.0/jackson-databind-2.20.0.jar" \
   "$m2/com/fasterxml/jackson/core/jackson-core/2.20.0/jackson-core-2.20.0.jar" \
   "$m2/com/fasterxml/jackson/core/jackson-annotations/2.20/jackson-annotations-2.20.jar" "$kit/lib/"
mkdir -p "$kit/junit" "$kit/scripts" "$kit/gpu-native/src/main"
cp "$m2/org/junit/platform/junit-platform-console-standalone/1.14.1/junit-platform-console-standalone-1.14.1.jar" "$kit/junit/"
cp "$root/gpu-native/scripts/device-run.sh" "$root/gpu-native/scripts/torch-gemm-bench.py" \
   "$root/gpu-native/scripts/torch-dense-attention.py" "$kit/scripts/"
cp -r "$root/gpu-native/src/main/cuda" "$kit/gpu-native/src/main/"
du -sh "$kit"
