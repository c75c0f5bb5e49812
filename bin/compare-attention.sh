#!/usr/bin/env bash
# The comparison of docs/EXPERIMENTS.md: dense, strided (Sparse Transformer) and LongNet attention in the
# same small decoder (docs/experiments/*.json: d_model 128, 2 layers), trained with equal tokens at sequence
# lengths 2,048 and 8,192 on a generated corpus with long-range recalls; prints validation perplexity and
# training tokens/s of each. Run from the repository root after `mvn -B -ntp -q -DskipTests package`.
#   bin/compare-attention.sh     (STEPS=40 steps of 16,384 tokens each; LENGTHS="2048 8192"; OUT=target/experiments)
set -euo pipefail
steps="${STEPS:-40}"
lengths="${LENGTHS:-2048 8192}"
out="${OUT:-target/experiments}"
per_step=16384
mkdir -p "$out"
[[ -d "$out/corpus" ]] || bin/longnet synth-corpus --out "$out/corpus" --documents 48 --bytes 16384 --seed 1
[[ -d "$out/tokens" ]] || bin/longnet tokenize --corpus "$out/corpus" --out "$out/tokens" --block-size 1024
for n in $lengths; do
  for attention in dense strided longnet; do
    run="$attention-$((n / 1024))k"
    [[ -f "$out/$run/training.json" ]] && continue
    bin/longnet train --tokens "$out/tokens" --config "docs/experiments/$run.json" --out "$out/$run" \
      --steps "$steps" --seq-len "$n" --batch $((per_step / n)) --seed 1 --checkpoint-every "$steps" --overwrite \
      2>&1 | grep -v ' INFO ' | tee "$out/$run.log"
  done
done
printf '\n| run | N | attention | validation NLL (nats/token) | validation perplexity | training tokens/s |\n|---|---|---|---|---|---|\n'
for n in $lengths; do
  n=$((n / 1024))
  for attention in dense strided longnet; do
    f="$out/$attention-${n}k/training.json"
    value() { sed -n "s/^  \"$1\" : \(.*\),\$/\1/p" "$f"; }
    printf '| %s | %dK | %s | %.4f | %.3f | %.0f |\n' "$attention-${n}k" "$n" "$attention" \
      "$(value validation_loss)" "$(value validation_perplexity)" "$(value train_tokens_per_second)"
  done
done
