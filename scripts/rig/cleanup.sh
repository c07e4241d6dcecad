#!/usr/bin/env bash
# Remove containers, volumes and networks of compose projects whose name
# starts with PREFIX (label com.docker.compose.project).
#
# Usage: scripts/rig/cleanup.sh [PREFIX]     (default PREFIX: migtest)
set -euo pipefail

RIG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../lib/common.sh
. "$RIG_DIR/../lib/common.sh"

PREFIX="${1:-migtest}"
[[ -n "$PREFIX" ]] || die "empty prefix would match every compose project"
LABEL=com.docker.compose.project

# matching KIND : ids of KIND (container|volume|network) whose project label starts with PREFIX.
matching() {
    local kind="$1" fmt
    case "$kind" in
        container) fmt="{{.ID}} {{.Label \"$LABEL\"}}"; docker ps -a --filter "label=$LABEL" --format "$fmt" ;;
        volume) fmt="{{.Name}} {{.Label \"$LABEL\"}}"; docker volume ls --filter "label=$LABEL" --format "$fmt" ;;
        network) fmt="{{.ID}} {{.Label \"$LABEL\"}}"; docker network ls --filter "label=$LABEL" --format "$fmt" ;;
    esac | while read -r id project; do
        if [[ "$project" == "$PREFIX"* ]]; then
            echo "$id"
        fi
    done
}

mapfile -t containers < <(matching container)
if [[ ${#containers[@]} -gt 0 ]]; then
    log "removing ${#containers[@]} container(s)"
    docker rm -f -v "${containers[@]}" >/dev/null
fi
mapfile -t volumes < <(matching volume)
if [[ ${#volumes[@]} -gt 0 ]]; then
    log "removing volume(s): ${volumes[*]}"
    docker volume rm -f "${volumes[@]}" >/dev/null
fi
mapfile -t networks < <(matching network)
if [[ ${#networks[@]} -gt 0 ]]; then
    log "removing ${#networks[@]} network(s)"
    docker network rm "${networks[@]}" >/dev/null
fi
log "cleanup of projects '$PREFIX*' done"
