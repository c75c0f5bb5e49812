# Sourced by the scripts that compile the bf16 kernel. ptxas serialises wgmma groups it cannot keep in flight
# (too few registers, C7512; accumulators or a wgmma on a divergent path, C7515/C7520) and says so only in a
# note: the kernel stays correct, only slower, so a build or a measurement of it would mislead.
# refuse_serialised_wgmma NOTES WHAT: prints the notes, and fails where they report such a serialisation.
refuse_serialised_wgmma() {
  [ -z "$1" ] || printf '%s\n' "$1" >&2
  if grep -q 'wgmma.mma_async instructions are serialized' <<<"$1"; then
    echo "ptxas serialises wgmma groups in $2 (notes above)" >&2
    return 1
  fi
}
