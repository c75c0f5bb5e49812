#!/usr/bin/env bash
# On the GPU machine (no Java), from the repository root: unpacks the parts of stage-device-spark.sh
# (.device/spark1.tar, ...) into LONGNET_SPARK_HOME (default /tmp/longnet-spark: the runtime in jre/, the
# jars in jars/) and lays out spark-jobs/target as a build would, so that bin/longnet runs unchanged with
# JAVA_HOME=$LONGNET_SPARK_HOME/jre. Each part is unpacked once, when it first arrives (the device tool
# carries one part per call and keeps what earlier calls left); a part already unpacked is skipped even
# when its file is no longer carried.
#   gpu-native/scripts/device-spark-unpack.sh            fails (one line, exit 2) unless every part is in
#   gpu-native/scripts/device-spark-unpack.sh --partial  unpacks what is here, says what is still missing
set -euo pipefail
cd "$(dirname "$0")/../.."
partial=false; [[ "${1:-}" == --partial ]] && partial=true
home="${LONGNET_SPARK_HOME:-/tmp/longnet-spark}"
done_dir="$home/unpacked"
mkdir -p "$done_dir" "$home/jars"
say() { echo "device-spark-unpack: $*" >&2; }

# A part's first member names it: "part I of N, staged STAMP".
for part in .device/spark[0-9]*.tar; do
  [[ -f "$part" ]] || continue
  header=$(tar -xOf "$part" part.txt | head -n 1)
  [[ "$header" =~ ^part\ ([0-9]+)\ of\ [0-9]+, ]] || { say "$part is not a part of stage-device-spark.sh: stage and carry it again"; exit 2; }
  i=${BASH_REMATCH[1]}
  if [[ -f "$done_dir/$i" && "$(head -n 1 "$done_dir/$i")" == "$header" ]]; then
    continue
  fi
  tmp="$home/tmp-$i" && rm -rf "$tmp" && mkdir -p "$tmp"
  tar -C "$tmp" -xf "$part"
  find "$tmp" -maxdepth 1 -name '*.jar.xz' -print0 | xargs -0 -r -P "$(nproc)" -n 4 xz -d
  if [[ -f "$tmp/jre.tar.xz" ]]; then
    rm -rf "$home/jre" && tar -C "$home" -xJf "$tmp/jre.tar.xz" && rm "$tmp/jre.tar.xz"
  fi
  mv -f "$tmp"/*.jar "$home/jars/" 2>/dev/null || true
  cp "$tmp/classpath-order.txt" "$tmp/shaded-jar.txt" "$home/"
  cp "$tmp/part.txt" "$done_dir/$i"
  rm -rf "$tmp"
  echo "unpacked $part ($header)"
done

# Complete when parts 1..N of one staging (the one unpacked last) are all unpacked.
first=$(ls -t "$done_dir" | head -n 1)
if [[ -z "$first" ]]; then
  say "no part of the staged Spark runtime here: carry .device/spark1.tar (made by stage-device-spark.sh)"
  exit 2
fi
read -r _ _ _ n _ stamp < <(head -n 1 "$done_dir/$first")
n=${n%,}
missing=()
for ((i = 1; i <= n; i++)); do
  if [[ ! -f "$done_dir/$i" ]] || [[ "$(head -n 1 "$done_dir/$i" | awk '{print $NF}')" != "$stamp" ]]; then
    missing+=(".device/spark$i.tar")
  fi
done
if (( ${#missing[@]} > 0 )); then
  if $partial; then
    echo "still to carry, one per call: ${missing[*]} (of $n parts staged $stamp)"
    exit 0
  fi
  say "missing ${missing[*]} (of $n parts staged $stamp): carry each part, one per device call, then run this again"
  exit 2
fi

# The project's own classes, newer than the staged parts (stage-device-spark.sh --classes): they replace
# the shaded jar's io/longnet/ entries and service files, in a copy; the staged jar stays as it was.
shaded="$home/jars/$(cat "$home/shaded-jar.txt")"
if [[ -f .device/spark-classes.jar ]]; then
  python3 - "$shaded" .device/spark-classes.jar "$home/shaded-with-classes.jar" <<'PY'
import sys, zipfile
base, classes, out = sys.argv[1:]
with zipfile.ZipFile(classes) as c:
    ours = {i.filename: c.read(i) for i in c.infolist()}
ours_prefix = ('io/longnet/', 'META-INF/services/')
with zipfile.ZipFile(base) as zin, zipfile.ZipFile(out, 'w', zipfile.ZIP_STORED) as zout:
    for info in zin.infolist():
        if info.filename.startswith(ours_prefix):
            continue
        zout.writestr(info, zin.read(info))
    for name, data in ours.items():
        zout.writestr(name, data)
print(f'shaded jar with {len(ours)} entries of .device/spark-classes.jar')
PY
  shaded="$home/shaded-with-classes.jar"
fi
# The build's layout: the shaded jar and Spark's classpath file, in Spark's order.
mkdir -p spark-jobs/target
rm -f spark-jobs/target/spark-jobs-*-shaded.jar
ln -s "$shaded" "spark-jobs/target/$(cat "$home/shaded-jar.txt")"
sed "s|^|$home/jars/|" "$home/classpath-order.txt" | paste -sd: - > spark-jobs/target/spark-classpath.txt
while read -r jar; do
  [[ -f "$home/jars/$jar" ]] || { say "$jar is listed but was not unpacked: stage and carry the parts again"; exit 2; }
done < "$home/classpath-order.txt"
echo "Spark runtime ready ($n parts staged $stamp): JAVA_HOME=$home/jre"
