#!/usr/bin/env bash
# Stages, as .device/spark1.tar, .device/spark2.tar, ... (git-ignored, each at most PART_BYTES, default
# 56 MB), what bin/longnet needs on a linux-x86_64 GPU machine without Java: a jlink'ed runtime and
# Spark's classpath plus the shaded spark-jobs jar, for synth-corpus, tokenize, init-model, score, encode
# and attend on the embedded local master. The device tool carries one part per call and keeps them while
# warm; device-spark-unpack.sh unpacks each part as it arrives.
#
# To make the parts few:
#  - natives of other platforms are dropped, inside jars too (zstd-jni, snappy-java, lz4, netty, JNA,
#    DJL's tokenizers, ...); of JCuda's and JavaCPP's CUDA natives only those of the packages gpu-native
#    imports stay;
#  - the jars that none of the six commands loads a class from (checked with -verbose:class on all six)
#    and that are large are left out (UNUSED below: MLlib's linear algebra, ORC, ZooKeeper, QUIC, ...);
#  - every jar is rewritten with stored (uncompressed) entries and then xz'ed on its own: xz finds far
#    more in class files than deflate does (about 2.4 times smaller than the jars as published).
# Spark's classpath order is kept (classpath-order.txt). Run after `mvn -B -ntp -q -DskipTests package`.
#   gpu-native/scripts/stage-device-spark.sh
#   gpu-native/scripts/stage-device-spark.sh --classes   only the project's classes (about 1 MB), as
#       .device/spark-classes.jar: carried with any part, they replace those of the staged shaded jar, so a
#       code change needs no new parts while the dependencies stay the same
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
part_bytes="${PART_BYTES:-56000000}"
work="${STAGE_WORK:-/tmp/longnet-stage}"
shaded=$(ls spark-jobs/target/spark-jobs-*-shaded.jar 2>/dev/null | head -n 1 || true)
[[ -n "$shaded" && -f spark-jobs/target/spark-classpath.txt ]] \
  || { echo "stage-device-spark: no build; run mvn -B -ntp -q -DskipTests package first" >&2; exit 2; }
if [[ "${1:-}" == --classes ]]; then
  mkdir -p .device
  python3 - "$shaded" .device/spark-classes.jar <<'PY'
import sys, zipfile
src, dst = sys.argv[1:]
with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_DEFLATED) as zout:
    for info in zin.infolist():
        if info.filename.startswith(('io/longnet/', 'META-INF/services/')) and not info.is_dir():
            zout.writestr(info.filename, zin.read(info))
PY
  echo "staged .device/spark-classes.jar ($(stat -c %s .device/spark-classes.jar) bytes)"
  exit 0
fi
UNUSED='rocksdbjni|/breeze|/spire|/cats-kernel|/algebra_|JTransforms|JLargeArrays|arpack|/blas-|/lapack-|commons-math3|/orc-|hive-storage|zookeeper|curator|/tink-|protobuf-java|spark-streaming|spark-graphx|netty-codec-native-quic|netty-codec-classes-quic|netty-codec-http3|netty-tcnative|leveldbjni|py4j'
OTHER_PLATFORMS='-(osx|windows)-|-linux-(aarch_64|riscv64|ppc64le|s390x)\.jar$'
rm -rf "$work" && mkdir -p "$work/jars" "$work/xz"
tr ':' '\n' < spark-jobs/target/spark-classpath.txt | grep . | grep -vE "$UNUSED" | grep -vE -- "$OTHER_PLATFORMS" \
  > "$work/classpath.txt"
# The CUDA natives the GPU code can load: JavaCPP's jni<preset> for each org.bytedeco.cuda.global.<preset>
# it imports, JCuda's library for each jcuda package (driver -> JCudaDriver, runtime -> JCudaRuntime, ...).
presets=$(grep -rhoE 'org\.bytedeco\.cuda\.global\.[a-zA-Z0-9_]+' gpu-native/src/main/java | sed 's/.*\.//' | sort -u | paste -sd, -)
jcuda=$(grep -rhoE '\bjcuda\.(driver|runtime|nvrtc|nvptxcompiler)\b' gpu-native/src/main/java | sed 's/jcuda\.//' | sort -u | paste -sd, -)

jlink --add-modules java.base,java.sql,java.management,jdk.management,java.naming,java.security.jgss,jdk.security.auth,java.xml,jdk.unsupported,java.logging,java.desktop,java.scripting,jdk.crypto.ec,java.net.http,jdk.zipfs,jdk.incubator.vector \
  --strip-debug --no-header-files --no-man-pages --compress=0 --output "$work/jre"
(cd "$work" && tar -cf - jre | xz -9 -T2 > xz/jre.tar.xz) &
jre_job=$!

python3 - "$work" "$shaded" "$presets" "$jcuda" <<'PY'
import os, re, sys, zipfile
work, shaded, presets, jcuda = sys.argv[1], sys.argv[2], set(filter(None, sys.argv[3].split(','))), sys.argv[4]
NATIVE = re.compile(r'\.(so(\.\d+)*|dll|dylib|jnilib|a)$', re.I)
JCUDA = {'driver': 'JCudaDriver', 'runtime': 'JCudaRuntime', 'nvrtc': 'JNvrtc', 'nvptxcompiler': 'JNvPTXCompiler'}
jcuda_libs = {JCUDA[p] for p in filter(None, jcuda.split(','))}

def keep(jar, name):
    if not NATIVE.search(name):
        return True
    lower = name.lower()
    if not (re.search(r'-linux-x86_64\.jar$', jar)
            or ('linux' in lower and re.search(r'x86[_-]64|amd64|linux64', lower) and 'musl' not in lower)):
        return False
    m = re.match(r'org/bytedeco/cuda/linux-x86_64/libjni(\w+)\.so$', name)
    if m:
        return m.group(1) in presets
    m = re.match(r'lib/lib(J\w+)-[\d.]+-linux-x86_64\.so$', name)
    return m is None or m.group(1) in jcuda_libs

def repack(src, dst):
    kept = []
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, 'w', zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            if keep(os.path.basename(src), info.filename):
                data = zin.read(info)
                info.compress_type = zipfile.ZIP_STORED
                zout.writestr(info, data)
                if NATIVE.search(info.filename):
                    kept.append(info.filename)
    return kept

jars = [l.strip() for l in open(os.path.join(work, 'classpath.txt')) if l.strip()]
names = [os.path.basename(j) for j in jars] + [os.path.basename(shaded)]
if len(set(names)) != len(names):
    raise SystemExit('stage-device-spark: two jars share a file name')
natives = []
for src in jars + [shaded]:
    natives += [os.path.basename(src) + ': ' + n for n in repack(src, os.path.join(work, 'jars', os.path.basename(src)))]
with open(os.path.join(work, 'classpath-order.txt'), 'w') as f:
    f.write('\n'.join(os.path.basename(j) for j in jars) + '\n')
with open(os.path.join(work, 'shaded-jar.txt'), 'w') as f:
    f.write(os.path.basename(shaded) + '\n')
with open(os.path.join(work, 'natives.txt'), 'w') as f:
    f.write('\n'.join(natives) + '\n')
PY
echo "natives kept (linux-x86_64):"; sed 's/^/  /' "$work/natives.txt"
# What the GPU backend must find in the shaded jar.
listing=$(unzip -Z1 "$work/jars/$(cat "$work/shaded-jar.txt")")
for want in 'io/longnet/gpu/.*\.fatbin$' jcuda/driver/JCudaDriver.class lib/libJCudaDriver- org/bytedeco/javacpp/Loader.class \
    org/bytedeco/cuda/global/cublas.class org/bytedeco/cuda/linux-x86_64/libjnicublas.so \
    org/bytedeco/cuda/linux-x86_64/libjnicudart.so META-INF/services/; do
  grep -q "^$want" <<<"$listing" || { echo "stage-device-spark: the shaded jar lacks $want" >&2; exit 1; }
done
(cd "$work/jars" && ls | xargs -P 2 -n 4 xz -9 -T1) && mv "$work"/jars/*.xz "$work/xz/"
wait "$jre_job"

# Largest first into the first part with room (sizes are the xz'ed files', plus tar headers).
rm -f .device/spark[0-9]*.tar .device/spark[0-9]*.tar.xz && rm -rf .device/spark[0-9] && mkdir -p .device
python3 - "$work" "$part_bytes" <<'PY'
import os, sys, tarfile, time
work, cap = sys.argv[1], int(sys.argv[2])
files = sorted(os.listdir(os.path.join(work, 'xz')), key=lambda f: -os.path.getsize(os.path.join(work, 'xz', f)))
meta = ['classpath-order.txt', 'shaded-jar.txt']
overhead = 4 * 10240 + sum(1024 + os.path.getsize(os.path.join(work, m)) for m in meta)
parts = []
for f in files:
    size = os.path.getsize(os.path.join(work, 'xz', f)) + 1024
    part = next((p for p in parts if p['room'] >= size), None)
    if part is None:
        part = {'files': [], 'room': cap - overhead}
        parts.append(part)
        if part['room'] < size:
            raise SystemExit(f'stage-device-spark: {f} alone is larger than a part')
    part['files'].append(f)
    part['room'] -= size
stamp = time.strftime('%Y%m%dT%H%M%S')
for i, p in enumerate(parts, 1):
    manifest = os.path.join(work, 'part.txt')
    with open(manifest, 'w') as m:
        m.write(f'part {i} of {len(parts)}, staged {stamp}\n' + '\n'.join(p['files']) + '\n')
    with tarfile.open(f'.device/spark{i}.tar', 'w', format=tarfile.GNU_FORMAT) as t:
        t.add(manifest, 'part.txt')
        for m in meta:
            t.add(os.path.join(work, m), m)
        for f in p['files']:
            t.add(os.path.join(work, 'xz', f), f)
PY
echo "parts (limit $part_bytes bytes each):"
for p in .device/spark[0-9]*.tar; do printf '  %s %d bytes\n' "$p" "$(stat -c %s "$p")"; done
