#!/usr/bin/env bash
# Builds the testbed's Docker image FROM scratch: no base image is pulled
# (the machines this runs on reach no registry). One image holds all three
# binaries (meta-node, data-node, ctl) in /usr/local/bin, the shared
# libraries `ldd` lists for them (with the dynamic loader) and an
# /etc/nsswitch.conf; it has no shell, so healthchecks run `ctl health`.
#
#   docker/build-images.sh              cargo build --release, then the image
#   docker/build-images.sh --no-build   reuse target/release binaries as they are
#
# IMAGE (default influx-testbed/node:latest) names the image.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${IMAGE:-influx-testbed/node:latest}"
BINS=(meta-node data-node ctl)

if [[ "${1:-}" != "--no-build" ]]; then
  cargo build --release -p meta-node -p data-node -p ctl
fi
for b in "${BINS[@]}"; do
  test -x "target/release/$b" || { echo "build-images: target/release/$b is missing" >&2; exit 1; }
done

ctx="$(mktemp -d "${TMPDIR:-/tmp}/testbed-image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
root="$ctx/rootfs"
mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/var/lib/influxdb" "$root/backups"
chmod 1777 "$root/tmp"

for b in "${BINS[@]}"; do
  cp "target/release/$b" "$root/usr/local/bin/$b"
  # `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and the loader line
  # `/lib64/ld-linux-x86-64.so.2 (0x…)`; linux-vdso has no file.
  ldd "target/release/$b" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
  # --parents keeps the path the loader looks in; -L copies the file a
  # symlink (ld-linux, merged /usr) points to.
  cp -L --parents "$lib" "$root"
done

# Look names up in /etc/hosts before DNS (`localhost` has no DNS record).
printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
printf 'root:x:0:0:root:/:/usr/local/bin/ctl\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"

cat > "$ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin
LABEL org.opencontainers.image.title="influx-testbed node" \
      org.opencontainers.image.description="meta-node, data-node and ctl of the InfluxDB Enterprise testbed"
ENTRYPOINT ["/usr/local/bin/ctl"]
CMD ["-h"]
DOCKERFILE

echo "build-images: $(du -sh "$root" | cut -f1) rootfs; libraries:" >&2
(cd "$root" && find . -path ./usr/local/bin -prune -o -type f -name '*.so*' -print | sed 's/^\./  /') >&2
old="$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null || true)"
DOCKER_BUILDKIT=0 docker build --quiet -t "$IMAGE" "$ctx" >/dev/null 2>"$ctx/build.err" \
  || { cat "$ctx/build.err" >&2; exit 1; }
# The image this one replaces, unless a container still uses it.
if [[ -n "$old" && "$old" != "$(docker image inspect -f '{{.Id}}' "$IMAGE")" ]]; then
  docker rmi "$old" >/dev/null 2>&1 || true
fi

# Smoke test: the loader and libraries in the image run every binary.
for b in "${BINS[@]}"; do
  docker run --rm --network none --entrypoint "/usr/local/bin/$b" "$IMAGE" -version >/dev/null \
    || { echo "build-images: $b does not run in $IMAGE" >&2; exit 1; }
done
echo "build-images: built $IMAGE ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1000000}'))"
