#!/usr/bin/env bash
# Builds the headless agent's container image from the Dockerfile with
# podman or docker, whichever is present and running. Where neither can
# build, it says so and exits 0, so that a plain `make image` on a machine
# without a container engine is not an error; IMAGE_REQUIRED=1 makes that
# case fail (CI jobs that must produce the image).
#
#   IMAGE=usepod-agent:1.2.3 VERSION=1.2.3 packaging/scripts/image.sh
set -euo pipefail

IMAGE=${IMAGE:-usepod-agent:${VERSION:-dev}}
VERSION=${VERSION:-0.0.0-dev}

unavailable() {
	echo "make image: $1" >&2
	echo "make image: the image was NOT built. Install podman (or docker with a running engine) and run make image again." >&2
	if [[ "${IMAGE_REQUIRED:-0}" == "1" ]]; then
		exit 1
	fi
	exit 0
}

engine=""
why="neither podman nor docker is installed"
for candidate in ${CONTAINER_ENGINE:-podman docker}; do
	if ! command -v "$candidate" >/dev/null 2>&1; then
		continue
	fi
	# The client alone is not enough: docker needs its daemon running.
	probe=("$candidate" info)
	if command -v timeout >/dev/null 2>&1; then
		probe=(timeout 20 "$candidate" info) # a wedged daemon must not hang make
	fi
	if "${probe[@]}" >/dev/null 2>&1; then
		engine=$candidate
		break
	fi
	why="$candidate is installed but its engine does not answer ($candidate info failed)"
done
[[ -n "$engine" ]] || unavailable "$why"

echo "make image: building $IMAGE with $engine"
"$engine" build --build-arg "VERSION=$VERSION" -t "$IMAGE" -f Dockerfile .
echo "make image: built $IMAGE"
"$engine" image inspect --format 'user={{.Config.User}} entrypoint={{.Config.Entrypoint}}' "$IMAGE"
